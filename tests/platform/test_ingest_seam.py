"""The ``Ingest`` seam as the archive parsers use it: record by record."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from consentry.content import ContentStore
from consentry.ledger import EntryKind
from consentry.platform.ingest import Ingest, Rejection
from consentry.platform.quarantine import read_quarantine
from consentry.workspace import Workspace

from .conftest import account, decision, item, like


def stored_items(ws: Workspace) -> dict[str, dict[str, object]]:
    table = pa.Table.from_batches(list(ContentStore(ws.content_dir).scan()))
    return {r["content_id"]: r for r in table.to_pylist()}


def test_records_flow_to_the_ledger_and_the_store(workspace: Workspace) -> None:
    with Ingest(workspace, source="x-archive") as ingest:
        ingest.account(account(1), file="data/account.js", line=None)
        ingest.account(account(2), file="data/account.js", line=None)
        ingest.content(
            item(1, mentions=["@user2", "ghost"], media=[{"type": "photo", "alt_text": None}]),
            file="data/tweets.js",
            line=3,
        )
        ingest.interaction(like(1), file="data/like.js", line=1)
        ingest.decision(decision(1), file="consent", line=1)
        report = ingest.finish()
    assert report.source == "x-archive" and report.committed
    assert {k: (c.read, c.imported) for k, c in report.by_kind.items()} == {
        "account": (2, 2),
        "content": (1, 1),
        "interaction": (1, 1),
        "decision": (1, 1),
    }
    row = stored_items(workspace)["90001"]
    assert row["mentions"] == ["user2", "ghost"]  # handles without their @
    assert row["media"] == [{"type": "photo", "alt_text": None}]
    assert row["source_line"] == 3
    store = ContentStore(workspace.content_dir)
    [info] = store.imports()
    assert info.source == "x-archive"
    assert info.files[int(str(row["source_file"]))] == "data/tweets.js"
    with workspace.ledger() as ledger:
        kinds = [e.kind for e in ledger.account_history("1001")]
    assert kinds == [EntryKind.ACCOUNT_CREATED, EntryKind.CONSENT]


def test_python_times_and_dates_are_accepted(workspace: Workspace) -> None:
    with Ingest(workspace, source="test") as ingest:
        ingest.account(
            account(1, created_at=datetime(2021, 1, 1, tzinfo=UTC), birth_date=date(1990, 2, 3)),
            file="a",
            line=1,
        )
        ingest.content(item(1, created_at=datetime(2024, 1, 1, 12, tzinfo=UTC)), file="c", line=1)
        ingest.content(item(2, created_at=datetime(2024, 1, 1, 12)), file="c", line=2)  # naive
        report = ingest.finish()
    assert report.by_kind["content"].imported == 1
    assert report.quarantine is not None
    [naive] = read_quarantine(report.quarantine)
    assert (naive.line, naive.field, naive.reason) == (2, "created_at", "time has no UTC offset")
    assert stored_items(workspace)["90001"]["created_at"] == datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_an_author_must_be_known(workspace: Workspace) -> None:
    with Ingest(workspace, source="test") as ingest:
        ingest.content(item(1), file="c", line=1)  # author 1001 not given (yet)
        ingest.account(account(1), file="a", line=1)
        ingest.content(item(2), file="c", line=2)
        first = ingest.finish()
    # Accounts are staged before content of the same batch, so order within a batch is free;
    # what matters is that the account comes in the same import or an earlier one.
    assert first.by_kind["content"].imported == 2
    with Ingest(workspace, source="test") as ingest:
        ingest.content(item(3), file="c", line=1)  # known from the previous import
        ingest.content(item(4, author=9), file="c", line=2)
        second = ingest.finish()
    assert (second.by_kind["content"].imported, second.by_kind["content"].rejected) == (1, 1)


def test_parser_rejections_count_as_read_and_rejected(workspace: Workspace) -> None:
    with Ingest(workspace, source="test") as ingest:
        ingest.account(account(1), file="a", line=1)
        ingest.reject(Rejection("data/tweets.js", 7, None, "broken JSON", "{", "content"))
        ingest.reject(Rejection("data/weird.js", None, None, "not an archive file", None))
        report = ingest.finish()
    assert report.by_file["data/tweets.js"].read == report.by_file["data/tweets.js"].rejected == 1
    assert report.by_kind["unknown"].rejected == 1
    assert report.total.adds_up
    assert report.quarantine is not None
    assert [r.file for r in read_quarantine(report.quarantine)] == [
        "data/tweets.js",
        "data/weird.js",
    ]


def test_strict_commits_nothing_when_anything_is_rejected(workspace: Workspace) -> None:
    with Ingest(workspace, source="test", strict=True) as ingest:
        ingest.account(account(1), file="a", line=1)
        ingest.content(item(1), file="c", line=1)
        ingest.content(item(2, kind="story"), file="c", line=2)
        report = ingest.finish()
    assert not report.committed and report.failed
    assert report.quarantine is not None and report.quarantine.exists()
    assert ContentStore(workspace.content_dir).counts().items == 0
    with workspace.ledger() as ledger:
        assert ledger.head().seq == 0


def test_an_exception_inside_the_block_leaves_nothing_behind(workspace: Workspace) -> None:
    with (
        pytest.raises(RuntimeError, match="parser bug"),
        Ingest(workspace, source="test") as ingest,
    ):
        ingest.account(account(1), file="a", line=1)
        ingest.content(item(1), file="c", line=1)
        raise RuntimeError("parser bug")
    assert ContentStore(workspace.content_dir).counts().items == 0
    with workspace.ledger() as ledger:
        assert ledger.head().seq == 0
    # The store is unlocked: the next import runs.
    with Ingest(workspace, source="test") as ingest:
        ingest.account(account(1), file="a", line=1)
        assert ingest.finish().total.imported == 1


def test_the_text_limit_is_configurable(workspace: Workspace) -> None:
    with Ingest(workspace, source="test", max_text_chars=10) as ingest:
        ingest.account(account(1), file="a", line=1)
        ingest.content(item(1, text="0123456789"), file="c", line=1)
        ingest.content(item(2, text="0123456789+"), file="c", line=2)
        report = ingest.finish()
    assert report.quarantine is not None
    [long] = read_quarantine(report.quarantine)
    assert long.reason == "text is 11 characters, over the limit of 10"


def test_a_finished_ingest_refuses_more_records(workspace: Workspace) -> None:
    ingest = Ingest(workspace, source="test")
    ingest.finish()
    with pytest.raises(RuntimeError, match="finished"):
        ingest.account(account(1), file="a", line=1)


def test_batches_larger_than_the_buffer(workspace: Workspace) -> None:
    from consentry.platform import ingest as ingest_module

    n = ingest_module.RECORD_BATCH + 5
    with Ingest(workspace, source="test") as ingest:
        ingest.account(account(1), file="a", line=1)
        for i in range(n):
            ingest.content(item(i, id=f"c{i}"), file="c", line=i + 1)
        report = ingest.finish()
    assert report.by_kind["content"].imported == n
