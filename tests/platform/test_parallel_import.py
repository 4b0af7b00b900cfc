"""An import with 2 worker processes writes the same content store bytes, and reports the same
counts, as one process: a first import, then one that changes, deletes, repeats and
tombstones items over it (the commit's compare path), and the CLI's ``--workers``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.conftest import invoker

from consentry.platform.canonical import import_canonical
from consentry.platform.ingest import Ingest, import_workers
from consentry.platform.report import ImportReport
from consentry.workspace import Workspace


def _segments(ws: Workspace) -> dict[str, bytes]:
    """Every data file of the content store, by path (commit markers hold times: left out)."""
    root = ws.content_dir
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*.parquet"))
        if p.is_file()
    }


def _counts(report: ImportReport) -> dict[str, object]:
    return {f"{file}/{kind}": vars(c) for (file, kind), c in sorted(report.entries.items())} | {
        "total": vars(report.total)
    }


def _changed_export(demo: Path, out: Path) -> Path:
    """The demo export again, with texts changed, deletions, and rows repeated (the last wins)."""
    out.mkdir()
    for src in demo.glob("*.jsonl"):
        lines = src.read_text("utf-8").splitlines()
        if src.name == "content.jsonl":
            rows = [json.loads(line) for line in lines]
            for i, row in enumerate(rows):
                if i % 7 == 0:
                    row["text"] = f"{row.get('text') or ''} (edited)"
                if i % 11 == 0:
                    row["deleted_at"] = "2025-01-01T00:00:00Z"
            rows += [dict(r, text="repeated, this one wins") for r in rows[:20:3]]
            lines = [json.dumps(r) for r in rows]
        (out / src.name).write_text("\n".join(lines) + "\n", "utf-8")
    return out


def _import(ws: Workspace, folder: Path, workers: int) -> ImportReport:
    with import_workers(workers):
        return import_canonical(ws, folder)


@pytest.mark.slow
def test_two_workers_write_the_same_bytes_as_one(demo_platform: Path, tmp_path: Path) -> None:
    one = Workspace.init(tmp_path / "one")
    two = Workspace.init(tmp_path / "two")
    first = [_import(ws, demo_platform, n) for ws, n in ((one, 1), (two, 2))]
    assert _counts(first[0]) == _counts(first[1])
    assert first[0].total.imported > 0
    assert _segments(one) == _segments(two)
    assert len(_segments(one)) > 2  # several buckets: the commit really was split

    changed = _changed_export(demo_platform, tmp_path / "changed")
    second = [_import(ws, changed, n) for ws, n in ((one, 1), (two, 2))]
    assert _counts(second[0]) == _counts(second[1])
    assert second[0].total.updated > 0 and second[0].total.deleted > 0
    assert _segments(one) == _segments(two)

    # Deletions known by id only (tombstones), one of an id nobody has.
    ids = [json.loads(line)["id"] for line in (demo_platform / "content.jsonl").open()][1:60:5]
    reports = []
    for ws, n in ((one, 1), (two, 2)):
        with Ingest(ws, source="test", workers=n) as ingest:
            for i, content_id in enumerate([*ids, "no-such-item"], 1):
                ingest.deleted(content_id, "2025-02-01T00:00:00Z", file="gone.txt", line=i)
            reports.append(ingest.finish())
    assert _counts(reports[0]) == _counts(reports[1])
    assert reports[0].total.rejected == 1  # the unknown id, in both
    assert _segments(one) == _segments(two)


def test_workers_must_be_positive(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    with pytest.raises(ValueError, match="at least 1"):
        Ingest(ws, source="test", workers=0)
    with pytest.raises(ValueError, match="at least 1"), import_workers(0):
        pass


@pytest.mark.slow
def test_cli_workers_option(
    demo_platform: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import isolate_cli

    isolate_cli(tmp_path, monkeypatch)
    run = invoker()
    run("init", "--workspace", "a")
    run("init", "--workspace", "b")
    run("import", "canonical", str(demo_platform), "--workers", "1", "--workspace", "a")
    run("import", "canonical", str(demo_platform), "--workers", "2", "--workspace", "b")
    assert _segments(Workspace.open(tmp_path / "a")) == _segments(Workspace.open(tmp_path / "b"))
    bad = run(
        "import", "canonical", str(demo_platform), "--workers", "0", "--workspace", "a", code=2
    )
    assert "--workers" in bad.output
