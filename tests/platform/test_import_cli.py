"""What ``consentry import …`` tells a person: a missing consent file, input that is not what
the command imports, and a summary that lists only what had rows and adds up."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from consentry.cli.main import app
from consentry.workspace import Workspace

from .conftest import MakeExport, account, decision, item
from .test_x_archive import full_archive, make_archive

REPO_ROOT = Path(__file__).resolve().parents[2]
ARCTIC = (
    REPO_ROOT.parent / "shared" / "conformance" / "real-exports" / "reddit" / "arcticshift-2024-01"
)


def consentry(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, (args, result.output, result.exception)
    return result


def summary_rows(output: str) -> list[list[str]]:
    """The cells of the summary table's rows (file, kind, read, imported, unchanged, rejected)."""
    rows = []
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 6 and cells[2].replace(",", "").isdigit():
            rows.append(cells)
    return rows


def test_canonical_without_a_consent_file_says_so_naming_the_folder(
    tmp_path: Path, make_export: MakeExport
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    folder = make_export(accounts=[account(1)], content=[item(1)])
    out = consentry("import", "canonical", str(folder), "-w", str(ws.root)).output
    assert f"warning: {folder}: no consent file" in out
    assert "every author stays at the policy's default" in out

    with_consent = make_export(accounts=[account(1)], consent=[decision(1)])
    out = consentry("import", "canonical", str(with_consent), "-w", str(ws.root)).output
    assert "warning" not in out


def test_reddit_refuses_a_folder_of_json_that_is_not_a_dump(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    events = [{"level": "info", "msg": f"request {i}", "at": 1700000000 + i} for i in range(5000)]
    (folder / "app.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    ws = Workspace.init(tmp_path / "ws")
    out = consentry("import", "reddit", str(folder), "-w", str(ws.root), code=8).output
    assert "app.jsonl: not a Reddit dump" in out and "first 100 JSON objects" in out
    assert not list((ws.root / "quarantine").glob("*.jsonl"))  # nothing was quarantined


def test_reddit_refuses_a_folder_without_dump_files(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("hello\n")
    (folder / "b.md").write_text("# notes\n")
    ws = Workspace.init(tmp_path / "ws")
    out = consentry("import", "reddit", str(folder), "-w", str(ws.root), code=8).output
    assert f"{folder}: no Reddit dump inside" in out


def test_reddit_accepts_real_arctic_shift_files(tmp_path: Path) -> None:
    if not ARCTIC.is_dir():
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail(f"{ARCTIC} is missing: CI must run the real-dump checks")
        pytest.skip(f"no real Arctic Shift files at {ARCTIC} (shared/ is not beside this checkout)")
    ws = Workspace.init(tmp_path / "ws")
    out = consentry("import", "reddit", str(ARCTIC), "-w", str(ws.root)).output
    files = {row[0] for row in summary_rows(out)}
    assert {"test_comments.json", "test_submissions.json"} <= files


def test_summary_lists_only_what_had_rows_and_adds_up(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    archive = make_archive(tmp_path, full_archive(), layout="zip")
    out = consentry("import", "x-archive", str(archive), "-w", str(ws.root)).output
    rows = summary_rows(out)
    pairs = {(r[0], r[1]) for r in rows}
    assert ("data/account.js", "account") in pairs
    assert ("data/account.js", "content") not in pairs and ("data/like.js", "content") not in pairs
    for file, _kind, *numbers in rows:
        read, imported, unchanged, rejected = (int(n.replace(",", "")) for n in numbers)
        assert read > 0 and read == imported + unchanged + rejected, file


def test_reddit_a_dump_with_a_few_other_objects_first_is_still_a_dump(tmp_path: Path) -> None:
    from .test_reddit import COMMENT, SELF_POST, ndjson

    dump = tmp_path / "r_lyon.jsonl"
    dump.write_bytes(ndjson([{"meta": i} for i in range(5)] + [SELF_POST, COMMENT]))
    ws = Workspace.init(tmp_path / "ws")
    out = consentry("import", "reddit", str(dump), "-w", str(ws.root)).output
    (total,) = [r for r in summary_rows(out) if r[0] == "total"]
    assert total[2:] == ["9", "4", "0", "5"]  # 2 accounts + 2 items; the 5 others rejected


def test_a_refused_strict_import_keeps_its_number(tmp_path: Path, make_export: MakeExport) -> None:
    """The next import after a refused one is numbered after it: the two never share a
    quarantine file nor an id in their messages, even within the same second."""
    from consentry.platform.canonical import import_canonical

    ws = Workspace.init(tmp_path / "ws")
    export = make_export(accounts=[account(1)], content=[item(1), item(2, author=9)])
    refused = import_canonical(ws, export, strict=True)
    assert not refused.committed and refused.total.rejected == 1
    taken = import_canonical(ws, export)
    assert taken.committed
    assert int(taken.import_id[:6]) == int(refused.import_id[:6]) + 1
    assert refused.quarantine is not None and taken.quarantine is not None
    assert refused.quarantine != taken.quarantine
    assert len(refused.quarantine.read_text("utf-8").splitlines()) == 1
