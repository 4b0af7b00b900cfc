"""The content store: versions, deletions, idempotent re-imports, streaming reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import consentry.content.writer as writer_module
from consentry.content import INTERACTIONS, ITEMS, ContentStore
from consentry.content.buckets import bucket_of, hash_ids
from consentry.content.writer import ImportWriter, equal_values
from consentry.workspace import Workspace

from .conftest import Load

ALICE = {
    "id": "1001",
    "handle": "alice",
    "display_name": "Alice Martin",
    "created_at": "2021-03-04T10:00:00Z",
    "country": "FR",
    "birth_date": "1990-05-01",
}
BOB = {"id": "1002", "handle": "bob", "created_at": "2021-03-05T10:00:00Z", "country": "DE"}


def post(cid: str, text: str = "bonjour", **over: Any) -> dict[str, Any]:
    rec = {
        "id": cid,
        "author_id": "1001",
        "kind": "post",
        "text": text,
        "created_at": "2024-07-26T12:40:00Z",
        "lang": "fr",
        "visibility": "public",
    }
    rec.update(over)
    return rec


def items(ws: Workspace, columns: list[str] | None = None) -> pa.Table:
    store = ContentStore(ws.content_dir)
    return pa.Table.from_batches(list(store.scan(columns)), schema=_schema(columns))


def _schema(columns: list[str] | None) -> pa.Schema:
    schema = ITEMS.schema
    return pa.schema([schema.field(c) for c in columns]) if columns else schema


def by_id(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["content_id"]: row for row in table.to_pylist()}


# ---- the bucket hash ----------------------------------------------------------------------------


def test_bucket_hash_is_stable() -> None:
    # Stored data is laid out by this hash: these values must never change.
    ids = pa.array(["", "a", "ab", "1001", "1700000000000000000"])
    assert hash_ids(ids).tolist() == [
        0,
        13738841806743770695,
        10203656807036188917,
        13267828359434063665,
        hash_ids(pa.array(["1700000000000000000"])).tolist()[0],
    ]
    assert (
        bucket_of(ids, 64).tolist() == bucket_of(pa.chunked_array([ids[:2], ids[2:]]), 64).tolist()
    )


def test_bucket_hash_is_stable_for_one_length_and_long_ids() -> None:
    # Both paths of the hash (every id of one length; ids of several lengths, one over 256
    # bytes where weights wrap around), pinned to the values the first implementation gave.
    same_length = pa.array(["1700000000000000000", "1100000067975203925"])
    assert hash_ids(same_length).tolist() == [4643196570799821921, 16045836520970992537]
    assert hash_ids(pa.array(["é" * 150, "x"])).tolist() == [
        8300923321281574483,
        12702426156961089764,
    ]


def test_bucket_hash_of_a_slice_equals_hash_of_a_copy() -> None:
    ids = pa.array([f"id-{i}" for i in range(100)] + ["x" * 300, "y"])
    assert (
        hash_ids(ids.slice(7, 50)).tolist()
        == hash_ids(pa.array(ids.slice(7, 50).to_pylist())).tolist()
    )
    assert hash_ids(ids).tolist() == [int(hash_ids(pa.array([v]))[0]) for v in ids.to_pylist()]


def test_buckets_are_even() -> None:
    ids = pa.array([str(1_700_000_000_000_000_000 + i * 4096) for i in range(64_000)])
    counts = np.bincount(bucket_of(ids, 64), minlength=64)
    assert counts.min() > 800 and counts.max() < 1200


# ---- comparing versions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (
            pa.array(["x", None, "y", None]),
            pa.array(["x", None, "z", "w"]),
            [True, True, False, False],
        ),
        (
            pa.array(
                [
                    [{"type": "photo", "alt_text": "a"}],
                    None,
                    [],
                    [{"type": "photo", "alt_text": None}],
                ],
                pa.list_(pa.struct([("type", pa.string()), ("alt_text", pa.string())])),
            ),
            pa.array(
                [
                    [{"type": "photo", "alt_text": "a"}],
                    None,
                    None,
                    [{"type": "photo", "alt_text": "b"}],
                ],
                pa.list_(pa.struct([("type", pa.string()), ("alt_text", pa.string())])),
            ),
            [True, True, False, False],
        ),
        (
            pa.array([["a", "b"], ["a"], ["a", "b"]]),
            pa.array([["a", "b"], ["a", "b"], ["b", "a"]]),
            [True, False, False],
        ),
    ],
)
def test_equal_values_is_null_aware_for_scalars_structs_and_lists(
    a: pa.Array, b: pa.Array, expected: list[bool]
) -> None:
    assert equal_values(a, b).tolist() == expected


# ---- imports ------------------------------------------------------------------------------------


def test_reimport_is_idempotent(workspace: Workspace, load: Load) -> None:
    records = {
        "accounts": [ALICE, BOB],
        "content": [
            post("9001"),
            post("9002", "salut @bob", media=[{"type": "photo", "alt_text": "un chat"}]),
        ],
        "interactions": [
            {
                "account_id": "1002",
                "content_id": "9001",
                "kind": "like",
                "at": "2024-07-26T13:00:00Z",
            }
        ],
        "decisions": [
            {
                "account_id": "1001",
                "purpose": "train",
                "decision": "grant",
                "at": "2024-07-27T08:00:00Z",
                "source": "web",
            }
        ],
    }
    first = load(**records)
    with workspace.ledger() as ledger:
        head = ledger.head()
    second = load(**records)
    with workspace.ledger() as ledger:
        assert ledger.head() == head  # nothing appended
    assert first.total.imported == 6 and second.total.imported == 0
    assert second.total.unchanged == second.total.read == 6
    table = items(workspace)
    assert sorted(table.column("content_id").to_pylist()) == ["9001", "9002"]
    store = ContentStore(workspace.content_dir)
    counts = store.counts()
    assert (counts.items, counts.accounts, counts.interactions, counts.imports) == (2, 2, 1, 2)
    assert len(list(store.scan_interactions())) == 1


def test_a_changed_item_is_a_new_version_and_scan_yields_the_latest(
    workspace: Workspace, load: Load
) -> None:
    load(accounts=[ALICE], content=[post("9001", "first"), post("9002", "same")])
    report = load(content=[post("9001", "edited"), post("9002", "same")])
    c = report.by_kind["content"]
    assert (c.read, c.imported, c.updated, c.unchanged) == (2, 1, 1, 1)
    rows = by_id(items(workspace))
    assert rows["9001"]["text"] == "edited" and rows["9001"]["import_seq"] == 2
    assert rows["9002"]["import_seq"] == 1
    # Both versions are kept; the store resolves to the newest.
    store = ContentStore(workspace.content_dir)
    stored = [
        row
        for b in range(store.buckets(ITEMS))
        for seg in store.segments(ITEMS, b, store.committed())
        for row in pq.read_table(seg, columns=["content_id", "text"]).to_pylist()
    ]
    assert sorted((r["content_id"], r["text"]) for r in stored) == [
        ("9001", "edited"),
        ("9001", "first"),
        ("9002", "same"),
    ]
    assert store.counts().items == 2


def test_a_deletion_is_recorded_with_its_time_and_is_not_undone(
    workspace: Workspace, load: Load
) -> None:
    load(accounts=[ALICE], content=[post("9001"), post("9002")])
    report = load(content=[post("9001", deleted_at="2024-08-01T09:00:00+02:00")])
    assert report.by_kind["content"].deleted == 1
    rows = by_id(items(workspace))
    assert rows["9001"]["deleted_at"] == datetime(2024, 8, 1, 7, 0, tzinfo=UTC)
    assert rows["9002"]["deleted_at"] is None
    # An export taken before the deletion, imported again, must not bring the item back.
    stale = load(content=[post("9001")])
    assert stale.by_kind["content"].unchanged == 1
    assert by_id(items(workspace))["9001"]["deleted_at"] == datetime(2024, 8, 1, 7, 0, tzinfo=UTC)
    assert ContentStore(workspace.content_dir).counts().deleted_items == 1


def test_deletions_in_a_first_import_are_counted(workspace: Workspace, load: Load) -> None:
    report = load(
        accounts=[ALICE],
        content=[post(str(9000 + i), deleted_at="2024-08-01T00:00:00Z") for i in range(5)]
        + [post("9100")],
    )
    assert report.by_kind["content"].deleted == 5
    counts = ContentStore(workspace.content_dir).counts()
    assert (counts.items, counts.deleted_items) == (6, 5)


def test_a_deletion_known_by_id_only(workspace: Workspace, load: Load) -> None:
    load(accounts=[ALICE], content=[post("9001", "gone soon")])
    report = load(deletions=[("9001", "2024-09-01T00:00:00Z"), ("nope", "2024-09-01T00:00:00Z")])
    c = report.by_kind["content"]
    assert (c.read, c.imported, c.deleted, c.rejected) == (2, 1, 1, 1)
    row = by_id(items(workspace))["9001"]
    assert row["text"] == "gone soon" and row["deleted_at"] == datetime(2024, 9, 1, tzinfo=UTC)
    again = load(deletions=[("9001", "2024-09-02T00:00:00Z")])
    assert again.by_kind["content"].unchanged == 1  # already deleted: the first time stands
    assert by_id(items(workspace))["9001"]["deleted_at"] == datetime(2024, 9, 1, tzinfo=UTC)


def test_the_last_row_of_an_id_wins_within_one_import(workspace: Workspace, load: Load) -> None:
    report = load(accounts=[ALICE], content=[post("9001", "one"), post("9001", "two")])
    c = report.by_kind["content"]
    assert (c.read, c.imported, c.unchanged) == (2, 1, 1)
    assert by_id(items(workspace))["9001"]["text"] == "two"


def test_an_interaction_given_twice_is_stored_once(workspace: Workspace, load: Load) -> None:
    like = {
        "account_id": "1002",
        "content_id": "9001",
        "kind": "like",
        "at": "2024-07-26T13:00:00Z",
    }
    bookmark = {**like, "kind": "bookmark"}
    report = load(
        accounts=[ALICE, BOB], content=[post("9001")], interactions=[like, bookmark, like]
    )
    c = report.by_kind["interaction"]
    assert (c.read, c.imported, c.unchanged) == (3, 2, 1)
    rows = [
        r for b in ContentStore(workspace.content_dir).scan_interactions() for r in b.to_pylist()
    ]
    assert sorted(r["kind"] for r in rows) == ["bookmark", "like"]


def test_accounts_hold_the_latest_names(workspace: Workspace, load: Load) -> None:
    load(accounts=[ALICE, BOB])
    load(accounts=[{**BOB, "handle": "robert", "display_name": "Robert"}])
    table = ContentStore(workspace.content_dir).accounts()
    assert table.column_names == ["account_id", "handle", "display_name"]
    names = {r["account_id"]: (r["handle"], r["display_name"]) for r in table.to_pylist()}
    assert names == {"1001": ("alice", "Alice Martin"), "1002": ("robert", "Robert")}


def test_scan_streams_bucket_by_bucket_in_batches(workspace: Workspace, load: Load) -> None:
    load(accounts=[ALICE], content=[post(str(9000 + i)) for i in range(500)])
    store = ContentStore(workspace.content_dir)
    batches = list(store.scan(["content_id", "text"], batch_size=7))
    assert all(b.num_rows <= 7 for b in batches)
    assert all(b.schema.names == ["content_id", "text"] for b in batches)
    ids = [v for b in batches for v in b.column(0).to_pylist()]
    assert sorted(ids) == sorted(str(9000 + i) for i in range(500))
    # Batches never mix buckets: each batch's ids share one bucket.
    for b in batches:
        assert len(set(bucket_of(b.column(0), 64).tolist())) == 1


def test_an_uncommitted_import_is_invisible_and_cleaned_up(
    workspace: Workspace, load: Load
) -> None:
    load(accounts=[ALICE], content=[post("9001")])
    store = ContentStore(workspace.content_dir)
    # A crash after staging and even after writing a segment, before the commit marker.
    writer = ImportWriter(store, source="crash")
    crashed = writer.segment_path(ITEMS, 0)
    crashed.parent.mkdir(parents=True, exist_ok=True)
    crashed.write_bytes(b"half a parquet file")
    writer._unlock()  # the process died: the OS released the lock
    assert [r["content_id"] for r in items(workspace).to_pylist()] == ["9001"]
    load(content=[post("9002")])  # the next import removes the leftovers
    assert not crashed.exists()
    assert sorted(items(workspace).column("content_id").to_pylist()) == ["9001", "9002"]


def test_the_spill_bound_holds_for_all_tables_together(workspace: Workspace, load: Load) -> None:
    """A table's rest is written out when another table's rows fill the buffer, so memory holds
    one buffer whatever the mix; the rows all arrive."""
    load(accounts=[ALICE])
    store = ContentStore(workspace.content_dir)
    writer = ImportWriter(store, source="test", spill_bytes=20_000)
    at = datetime(2024, 7, 26, 12, 40, tzinfo=UTC)
    n = 100
    rows = pa.table(
        {
            "content_id": [f"c{i}" for i in range(n)],
            "author_id": ["1001"] * n,
            "kind": ["post"] * n,
            "text": ["x" * 20] * n,
            "created_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
            "visibility": ["public"] * n,
            "source_file": pa.array([0] * n, pa.int32()),
        }
    )
    full = pa.table(
        {
            name: rows.column(name) if name in rows.column_names else pa.nulls(n, f.type)
            for name, f in zip(ITEMS.schema.names, ITEMS.schema, strict=True)
            if name != "import_seq"
        }
    )
    writer.file_index("content")
    writer.add(ITEMS, full)
    assert sum(writer._buffered.values()) < writer.spill_bytes  # held: under the bound
    staged_items = writer.staging / "items"
    assert not staged_items.exists()
    likes = pa.table(
        {
            "account_id": ["1001"] * 400,
            "content_id": [f"c{i % n}-{i}" for i in range(400)],
            "kind": ["like"] * 400,
            "at": pa.array([at] * 400, pa.timestamp("us", tz="UTC")),
            "source_file": pa.array([0] * 400, pa.int32()),
            "source_line": pa.nulls(400, pa.int64()),
        }
    )
    writer.add(INTERACTIONS, likes)
    assert sum(writer._buffered.values()) == 0  # both tables written out together
    assert staged_items.exists()
    writer.commit()
    assert ContentStore(workspace.content_dir).counts().items == n
    assert ContentStore(workspace.content_dir).counts().interactions == 400


def test_staged_rows_stream_into_a_segment_in_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staged rows (an IPC stream, appended at every spill) become the segment in row groups of
    about ``ROW_GROUP_ROWS``: every row once, in staging order."""
    monkeypatch.setattr(writer_module, "ROW_GROUP_ROWS", 3)
    schema = INTERACTIONS.schema
    at = datetime(2024, 7, 26, 13, tzinfo=UTC)

    def likes(first: int, n: int) -> pa.Table:
        return pa.Table.from_pylist(
            [
                {"account_id": "1001", "content_id": f"c{i}", "kind": "like", "at": at}
                | {"import_seq": 1, "source_file": 0, "source_line": i}
                for i in range(first, first + n)
            ],
            schema=schema,
        )

    staged = tmp_path / "b00.arrows"
    staging = writer_module._StagingFile(staged, schema)
    for first, n in ((0, 2), (2, 2), (4, 5), (9, 1)):  # four spills
        staging.write_table(likes(first, n))
    staging.close()
    target = tmp_path / "000001.parquet"
    writer_module._stream_to_parquet(staged, target, INTERACTIONS)
    segment = pq.ParquetFile(target)
    sizes = [segment.metadata.row_group(g).num_rows for g in range(segment.num_row_groups)]
    assert sizes == [4, 5, 1]  # batches gathered until a group holds ROW_GROUP_ROWS or more
    assert segment.read().column("content_id").to_pylist() == [f"c{i}" for i in range(10)]
