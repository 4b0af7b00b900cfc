"""The delivery map's helpers: the map written part by part as a build tells it what went in,
in row groups joined from small parts, and the per-account tally counted as the map is written
or from the written map (by hash, exact even when two ids share one)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.compliance import deliveries
from consentry.compliance.deliveries import (
    DATA,
    INTERACTIONS,
    MAP_SCHEMA,
    MapWriter,
    _AccountTally,
    _map_part,
    _records_per_account,
)
from consentry.snapshot.census import coalesced

parts_of_ids = st.lists(st.lists(st.sampled_from(["a", "b", "c", "é", "d" * 30]), max_size=9))


@settings(max_examples=60, deadline=None)
@given(parts=parts_of_ids)
def test_tally_counts_every_record_of_every_account(parts: list[list[str]]) -> None:
    tally = _AccountTally()
    for part in parts:
        tally.add(pa.array(part, pa.string()))
    result = tally.result()
    expected = Counter(i for part in parts for i in part)
    assert result.column_names == ["account_id", "records"]
    assert dict(zip(*result.to_pydict().values(), strict=True)) == expected
    assert result.column("account_id").to_pylist() == sorted(expected)


def _part(start: int, n: int) -> pa.RecordBatch:
    rows = pa.record_batch(
        {
            "author_id": [f"a{i % 3}" for i in range(start, start + n)],
            "content_id": [f"c{i}" for i in range(start, start + n)],
            "kind": ["post"] * n,
        }
    )
    entries = np.arange(start, start + n, dtype=np.int64)
    return _map_part(DATA, rows, "author_id", pa.nulls(n, pa.string()), entries)


def test_map_parts_join_into_row_groups_of_at_least_the_size_keeping_rows_and_order() -> None:
    sizes = [4, 0, 3, 5, 9, 2]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    parts = [_part(s, n) for s, n in zip(starts, sizes, strict=True)]
    groups = list(coalesced(parts, 10))
    assert [g.num_rows for g in groups] == [12, 11]
    assert all(g.schema == MAP_SCHEMA for g in groups)
    joined = pa.Table.from_batches(groups)
    assert joined.equals(pa.Table.from_batches(parts))
    assert joined.column("consent_entry").to_pylist() == list(range(23))
    assert set(joined.column("tbl").to_pylist()) == {DATA}


def _content_rows(start: int, n: int) -> pa.RecordBatch:
    return pa.record_batch(
        {
            "content_id": [f"c{i}" for i in range(start, start + n)],
            "author_id": [f"a{i % 7}" for i in range(start, start + n)],
            "kind": ["post"] * n,
            "repost_of": [None] * n,
        }
    )


def test_the_map_is_written_as_the_build_tells_it_in_row_groups_of_at_least_the_size(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(deliveries, "_ROW_GROUP", 10)
    writer = MapWriter(tmp_path / "map.parquet")
    sizes = [4, 3, 5, 9, 2]
    start = 0
    for n in sizes:
        writer.content(_content_rows(start, n), np.arange(start, start + n, dtype=np.int64))
        start += n
    liked = pa.record_batch(
        {"account_id": ["a1", "a9"], "content_id": ["c0", "c3"], "kind": ["like"] * 2}
    )
    writer.interactions(liked, np.array([-1, 5], dtype=np.int64))
    writer.close()
    written = pq.ParquetFile(tmp_path / "map.parquet")
    groups = [written.metadata.row_group(i).num_rows for i in range(written.num_row_groups)]
    assert groups == [12, 11, 2]
    table = written.read()
    assert table.schema == MAP_SCHEMA
    assert table["tbl"].to_pylist() == [DATA] * 23 + [INTERACTIONS] * 2
    assert table["consent_entry"].to_pylist() == [*range(23), -1, 5]
    assert table["account_id"].to_pylist()[-2:] == ["a1", "a9"]
    # Content ids are distinct: no dictionary for them; the rest repeat and have one.
    group = written.metadata.row_group(0)
    dictionary = {
        group.column(i).path_in_schema: group.column(i).has_dictionary_page
        for i in range(group.num_columns)
    }
    assert dictionary == {f.name: f.name != "content_id" for f in MAP_SCHEMA}


def test_a_map_nothing_went_into_is_an_empty_file(tmp_path: Path) -> None:
    writer = MapWriter(tmp_path / "map.parquet")
    writer.close()
    assert pq.read_table(tmp_path / "map.parquet").num_rows == 0
    assert _records_per_account(tmp_path / "map.parquet").num_rows == 0


def _write_map(path: Path, parts: list[list[str]]) -> None:
    with pq.ParquetWriter(path, pa.schema([("account_id", pa.string())])) as writer:
        for part in parts:
            writer.write_table(pa.table({"account_id": pa.array(part, pa.string())}))


def _colliding(ids: Any) -> np.ndarray[Any, Any]:
    """Few hashes: ids of the same length share one."""
    return np.asarray(pc.utf8_length(ids), dtype=np.uint64)


@pytest.mark.parametrize("hashing", ["real", "colliding"])
@settings(max_examples=40, deadline=None)
@given(parts=parts_of_ids.filter(lambda parts: any(parts)))
def test_records_per_account_of_a_written_map_are_exact(
    tmp_path_factory: pytest.TempPathFactory, hashing: str, parts: list[list[str]]
) -> None:
    path = tmp_path_factory.mktemp("map") / "map.parquet"
    _write_map(path, parts)
    with pytest.MonkeyPatch.context() as m:
        if hashing == "colliding":
            m.setattr(deliveries, "hash_ids", _colliding)
        result = _records_per_account(path)
    expected = Counter(i for part in parts for i in part)
    assert result.column_names == ["account_id", "records"]
    assert dict(zip(*result.to_pydict().values(), strict=True)) == expected
    assert result.column("account_id").to_pylist() == sorted(expected)


@pytest.mark.parametrize("hashing", ["real", "colliding"])
@settings(max_examples=30, deadline=None)
@given(parts=parts_of_ids)
def test_the_writer_counts_records_per_account_as_it_writes_exactly(
    tmp_path_factory: pytest.TempPathFactory, hashing: str, parts: list[list[str]]
) -> None:
    """Counted group by group as the map is written (not read back), and still exact when two
    ids share a hash (the finished map is then counted again, exactly); the oracle is the map
    as written, read back and counted by Python."""
    path = tmp_path_factory.mktemp("map") / "map.parquet"
    with pytest.MonkeyPatch.context() as m:
        m.setattr(deliveries, "_ROW_GROUP", 4)
        if hashing == "colliding":
            m.setattr(deliveries, "hash_ids", _colliding)
        writer = MapWriter(path)
        start = 0
        for part in parts:
            rows = pa.record_batch(
                {
                    "content_id": [f"c{i}" for i in range(start, start + len(part))],
                    "author_id": pa.array(part, pa.string()),
                    "kind": ["post"] * len(part),
                    "repost_of": pa.nulls(len(part), pa.string()),
                }
            )
            writer.content(rows, np.arange(start, start + len(part), dtype=np.int64))
            start += len(part)
        writer.close()
        result = writer.per_account()
    expected = Counter(pq.read_table(path)["account_id"].to_pylist())
    assert expected == Counter(i for part in parts for i in part)
    assert result.column_names == ["account_id", "records"]
    assert dict(zip(*result.to_pydict().values(), strict=True)) == expected
    assert result.column("account_id").to_pylist() == sorted(expected)
