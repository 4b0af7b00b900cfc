"""``consentry import canonical``: the folder format, the ledger side, re-imports, the command."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from consentry.cli.main import app
from consentry.content import ContentStore
from consentry.errors import ImportDataError
from consentry.ledger import EntryKind
from consentry.platform.canonical import export_size, import_canonical
from consentry.workspace import Workspace

from .conftest import MakeExport, account, decision, item, like, read_jsonl


def standard(make_export: MakeExport) -> Path:
    return make_export(
        accounts=[account(1), account(2, country="DE", birth_date=None), account(3)],
        content=[item(1), item(2, author=2), item(3, kind="reply", in_reply_to="90001")],
        interactions=[like(1), like(2, liker=1)],
        consent=[
            decision(1),
            decision(1, decision="deny", scope="assistant", at="2024-08-01T08:00:00Z"),
            decision(2, purpose="share", recipient="acme-ai"),
        ],
    )


def test_counts_add_up_and_everything_lands(workspace: Workspace, make_export: MakeExport) -> None:
    report = import_canonical(workspace, standard(make_export))
    by_file = report.by_file
    assert {f: (c.read, c.imported, c.rejected) for f, c in by_file.items()} == {
        "accounts.jsonl": (3, 3, 0),
        "content.jsonl": (3, 3, 0),
        "interactions.jsonl": (2, 2, 0),
        "consent.jsonl": (3, 3, 0),
    }
    assert all(c.adds_up for c in report.entries.values())
    assert report.quarantine is None and report.committed
    with workspace.ledger() as ledger:
        states = {r["account_id"]: r for r in ledger.account_states().to_pylist()}
        assert states["1002"]["country"] == "DE" and states["1002"]["birth_date"] is None
        assert states["1001"]["birth_date"] == date(1990, 5, 1)
        consent = ledger.consent_state().to_pylist()
        assert {(c["account_id"], c["purpose"], c["scope"], c["decision"]) for c in consent} >= {
            ("1001", "train", "posts", 1),
            ("1001", "train", "assistant", 0),
        }
        assert report.ledger_appended == 6 and report.ledger_head == ledger.head()
    store = ContentStore(workspace.content_dir)
    assert store.counts().items == 3 and store.counts().interactions == 2


def test_reimport_appends_nothing_and_counts_unchanged(
    workspace: Workspace, make_export: MakeExport
) -> None:
    export = standard(make_export)
    import_canonical(workspace, export)
    with workspace.ledger() as ledger:
        head = ledger.head()
    again = import_canonical(workspace, export)
    t = again.total
    assert (t.read, t.imported, t.unchanged, t.rejected) == (11, 0, 11, 0)
    assert again.ledger_appended == 0
    with workspace.ledger() as ledger:
        assert ledger.head() == head


def test_an_account_change_appends_only_what_differs(
    workspace: Workspace, make_export: MakeExport
) -> None:
    import_canonical(workspace, make_export(accounts=[account(1), account(2)]))
    report = import_canonical(
        workspace,
        make_export(accounts=[account(1, status="deactivated", country="BE"), account(2)]),
    )
    assert report.by_kind["account"].imported == 1 and report.by_kind["account"].unchanged == 1
    with workspace.ledger() as ledger:
        history = ledger.account_history("1001")
    assert [e.kind for e in history] == [EntryKind.ACCOUNT_CREATED, EntryKind.ACCOUNT_CHANGED]
    assert history[0].at == datetime(2021, 3, 4, 10, tzinfo=UTC)  # creation: at created_at
    assert history[1].attrs == {"country": "BE", "status": "deactivated"}


def test_a_rename_is_a_new_account_version_without_ledger_entry(
    workspace: Workspace, make_export: MakeExport
) -> None:
    import_canonical(workspace, make_export(accounts=[account(1)]))
    report = import_canonical(workspace, make_export(accounts=[account(1, handle="renamed")]))
    assert report.by_kind["account"].imported == 1 and report.ledger_appended == 0
    handles = ContentStore(workspace.content_dir).accounts().column("handle").to_pylist()
    assert handles == ["renamed"]


def test_decisions_are_not_appended_twice_but_a_new_one_is(
    workspace: Workspace, make_export: MakeExport
) -> None:
    import_canonical(workspace, make_export(accounts=[account(1)], consent=[decision(1)]))
    report = import_canonical(
        workspace,
        make_export(
            consent=[
                decision(1),  # the same
                decision(1),  # the same, twice in one file
                decision(1, source="app"),  # another source: another decision
                decision(7),  # an account the workspace has not seen: fine for the ledger
            ]
        ),
    )
    c = report.by_kind["decision"]
    assert (c.read, c.imported, c.unchanged) == (4, 2, 2)
    with workspace.ledger() as ledger:
        assert len(ledger.account_history("1001")) == 3  # created + 2 decisions
        assert len(ledger.account_history("1007")) == 1


def test_decision_source_defaults_to_import(workspace: Workspace, make_export: MakeExport) -> None:
    import_canonical(workspace, make_export(consent=[{**decision(1), "source": None}]))
    with workspace.ledger() as ledger:
        assert [e.source for e in ledger.account_history("1001")] == ["import"]


def test_parquet_files_import_like_jsonl(
    workspace: Workspace, make_export: MakeExport, tmp_path: Path
) -> None:
    jsonl = standard(make_export)
    folder = tmp_path / "parquet-export"
    folder.mkdir()
    for path in jsonl.iterdir():
        rows = read_jsonl(path)
        columns = sorted({k for r in rows for k in r})
        table = pa.Table.from_pylist([{k: r.get(k) for k in columns} for r in rows])
        pq.write_table(table, folder / (path.stem + ".parquet"))
    report = import_canonical(workspace, folder)
    assert report.total.imported == 11 and report.total.rejected == 0
    again = import_canonical(workspace, jsonl)  # the same data in the other format
    assert again.total.unchanged == 11


def test_parquet_with_native_timestamps_and_integer_ids(
    workspace: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1001, 1002], pa.int64()),
                "handle": ["a", "b"],
                "created_at": pa.array(
                    [datetime(2021, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("ms", tz="UTC")
                ),
            }
        ),
        folder / "accounts.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "id": ["1001"],
                "handle": ["a"],
                "created_at": pa.array(
                    [datetime(2021, 1, 1, tzinfo=UTC)], pa.timestamp("s", tz="UTC")
                ),
                "birth_date": pa.array([date(1990, 1, 2)], pa.date32()),
            }
        ),
        folder / "extra.parquet",  # not part of the format: ignored
    )
    report = import_canonical(workspace, folder)
    c = report.by_kind["account"]
    assert (c.read, c.imported, c.rejected) == (2, 0, 2)
    assert report.quarantine is not None
    rejected = read_jsonl(report.quarantine)
    assert {r["line"] for r in rejected} == {1, 2}
    assert all(r["field"] == "id" and "ids must be strings" in r["reason"] for r in rejected)


def test_not_an_export(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(ImportDataError, match="not a canonical export"):
        import_canonical(workspace, tmp_path / "photos")
    with pytest.raises(ImportDataError, match="no such folder"):
        import_canonical(workspace, tmp_path / "missing")
    with pytest.raises(ImportDataError, match="not a folder"):
        import_canonical(workspace, tmp_path / "photos" / "cat.jpg")


def test_both_formats_of_one_file_is_ambiguous(
    workspace: Workspace, make_export: MakeExport
) -> None:
    folder = make_export(accounts=[account(1)])
    pq.write_table(pa.table({"id": ["1"]}), folder / "accounts.parquet")
    with pytest.raises(ImportDataError, match="keep one of them"):
        import_canonical(workspace, folder)


def test_progress_reports_every_byte(workspace: Workspace, make_export: MakeExport) -> None:
    export = standard(make_export)
    seen: list[int] = []
    import_canonical(workspace, export, progress=seen.append)
    assert sum(seen) == export_size(export)


# ---- the command --------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for var in ("CONSENTRY_WORKSPACE", "CONSENTRY_DB", "CONSENTRY_SECRET"):
        monkeypatch.delenv(var, raising=False)
    from consentry.cli import common

    monkeypatch.setattr(common.console, "width", 200)
    monkeypatch.setattr(common.err_console, "width", 200)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    return runner


def test_command_prints_counts_per_file(cli: CliRunner, make_export: MakeExport) -> None:
    export = make_export(
        accounts=[account(1)], content=[item(1), item(2, id=12)], consent=[decision(1)]
    )
    result = cli.invoke(app, ["import", "canonical", str(export)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if "content.jsonl" in line)
    assert [c.strip() for c in row.split("│")[3:7]] == ["2", "1", "0", "1"]
    assert "rejected rows" in result.output and ".jsonl" in result.output
    assert "ledger: 2 entries appended" in result.output


def test_command_exits_non_zero_when_nothing_could_be_read(
    cli: CliRunner, make_export: MakeExport
) -> None:
    export = make_export(content=["not json", '{"id": 1}'])
    result = cli.invoke(app, ["import", "canonical", str(export)])
    assert result.exit_code == ImportDataError.exit_code
    assert "nothing could be read" in result.output


def test_command_strict_imports_nothing_when_a_row_is_rejected(
    cli: CliRunner, make_export: MakeExport, tmp_path: Path
) -> None:
    export = make_export(accounts=[account(1)], content=[item(1), item(2, kind="story")])
    result = cli.invoke(app, ["import", "canonical", "--strict", str(export)])
    assert result.exit_code == ImportDataError.exit_code
    assert "nothing was imported" in result.output
    ws = Workspace.open(tmp_path / ".consentry")
    assert ContentStore(ws.content_dir).counts().items == 0
    with ws.ledger() as ledger:
        assert ledger.head().seq == 0
    ok = cli.invoke(app, ["import", "canonical", str(export)])  # without --strict: fine
    assert ok.exit_code == 0


def test_command_not_an_export(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli.invoke(app, ["import", "canonical", str(tmp_path / "empty")])
    assert result.exit_code == ImportDataError.exit_code
    assert "not a canonical export" in result.output


def test_command_text_limit_option(cli: CliRunner, make_export: MakeExport) -> None:
    export = make_export(accounts=[account(1)], content=[item(1, text="x" * 50)])
    result = cli.invoke(app, ["import", "canonical", "--max-text-chars", "10", str(export)])
    assert result.exit_code == 0  # the account was imported
    row = next(line for line in result.output.splitlines() if "content.jsonl" in line)
    assert [c.strip() for c in row.split("│")[3:7]] == ["1", "0", "0", "1"]
