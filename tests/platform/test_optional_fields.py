"""A bad descriptive optional field (language, media, mentions, display name) never costs its
record: it is dropped, and the import report counts it; fields that decide eligibility still
refuse their record (dropping them would judge it on a state it does not have)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentry.content import ContentStore
from consentry.platform.canonical import import_canonical
from consentry.platform.quarantine import read_quarantine
from consentry.workspace import Workspace

from .conftest import MakeExport, account, item


def _stored(workspace: Workspace, *columns: str) -> dict[str, tuple[object, ...]]:
    store = ContentStore(workspace.content_dir)
    rows = [r for b in store.scan(["content_id", *columns]) for r in b.to_pylist()]
    return {r["content_id"]: tuple(r[c] for c in columns) for r in rows}


def test_a_wrongly_typed_optional_field_is_dropped_with_a_warning(
    workspace: Workspace, make_export: MakeExport
) -> None:
    rows = [
        item(1, media="a photo"),
        item(2, lang=5),
        item(3, mentions="@user2"),
        item(4, media=[{"type": "photo", "alt_text": 3}]),
        item(5, media=[{"type": "photo", "alt_text": "un chat"}]),
    ]
    export = make_export(accounts=[account(1, display_name=["Al"])], content=rows)
    report = import_canonical(workspace, export)
    assert (report.total.read, report.total.imported, report.total.rejected) == (6, 6, 0)
    assert _stored(workspace, "lang", "media") == {
        "90001": ("fr", None),
        "90002": (None, None),
        "90003": ("fr", None),
        "90004": ("fr", None),
        "90005": ("fr", [{"type": "photo", "alt_text": "un chat"}]),
    }
    warned = {(k[0], k[1], w.first_line, w.count) for k, w in report.warnings.items()}
    assert warned == {
        ("content.jsonl", "media", 1, 1),
        ("content.jsonl", "lang", 2, 1),
        ("content.jsonl", "mentions", 3, 1),
        ("content.jsonl", "media", 4, 1),
        ("accounts.jsonl", "display_name", 1, 1),
    }
    assert all(k[2].endswith("; dropped") for k in report.warnings)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"deleted_at": 5}, "deleted_at"),
        ({"repost_of": 5}, "repost_of"),
        ({"text": ["a"]}, "text"),
    ],
)
def test_a_field_that_decides_eligibility_still_refuses_its_record(
    workspace: Workspace, make_export: MakeExport, over: dict[str, Any], field: str
) -> None:
    export = make_export(accounts=[account(1)], content=[item(1), item(2, **over)])
    report = import_canonical(workspace, export)
    assert report.by_kind["content"].rejected == 1 and report.warnings == {}
    assert report.quarantine is not None
    assert [r.field for r in read_quarantine(report.quarantine)] == [field]


def test_a_parquet_column_of_the_wrong_type_is_dropped_for_a_droppable_field(
    workspace: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    accounts = pa.table({"id": ["1001"], "handle": ["a"], "created_at": ["2021-01-01T00:00:00Z"]})
    pq.write_table(accounts, folder / "accounts.parquet")
    content = pa.table(
        {
            "id": ["1", "2"],
            "author_id": ["1001", "1001"],
            "kind": ["post", "post"],
            "created_at": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"],
            "visibility": ["public", "public"],
            "lang": pa.array([7, None], pa.int64()),
        }
    )
    pq.write_table(content, folder / "content.parquet")
    report = import_canonical(workspace, folder)
    assert (report.total.imported, report.total.rejected) == (3, 0)
    assert _stored(workspace, "lang") == {"1": (None,), "2": (None,)}
    ((key, warned),) = report.warnings.items()
    assert key[:2] == ("content.parquet", "lang") and warned.count == 1
