"""The delivery map's helpers: row groups joined from small parts, and the per-account tally
folded part by part (its memory follows the accounts, not the records)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.compliance.deliveries import DATA, MAP_SCHEMA, _AccountTally, _map_part
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
