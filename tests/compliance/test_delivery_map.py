"""The delivery map's helpers: row groups joined from small parts, and the per-account tally
folded as rows come (its memory follows the accounts, not the records)."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.compliance import deliveries
from consentry.compliance.deliveries import MAP_SCHEMA, _AccountTally, _row_groups

parts_of_ids = st.lists(st.lists(st.sampled_from(["a", "b", "c", "é", "d" * 30]), max_size=9))


@settings(max_examples=60, deadline=None)
@given(parts=parts_of_ids, fold_at=st.integers(1, 12))
def test_tally_counts_every_record_of_every_account(parts: list[list[str]], fold_at: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(deliveries, "_ROW_GROUP", fold_at)
        tally = _AccountTally()
        for part in parts:
            tally.add(pa.array(part, pa.string()))
        result = tally.result()
    expected = Counter(i for part in parts for i in part)
    assert result.column_names == ["account_id", "records"]
    assert dict(zip(*result.to_pydict().values(), strict=True)) == expected
    assert result.column("account_id").to_pylist() == sorted(expected)


def _map_part(start: int, n: int) -> pa.Table:
    return pa.table(
        {
            "tbl": ["data"] * n,
            "account_id": [f"a{i % 3}" for i in range(start, start + n)],
            "content_id": [f"c{i}" for i in range(start, start + n)],
            "kind": ["post"] * n,
            "origin_id": pa.nulls(n, pa.string()),
            "consent_entry": list(range(start, start + n)),
        },
        schema=MAP_SCHEMA,
    )


def test_row_groups_keep_rows_and_order_in_tables_of_at_least_the_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deliveries, "_ROW_GROUP", 10)
    sizes = [4, 0, 3, 5, 9, 2]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    parts = [_map_part(s, n) for s, n in zip(starts, sizes, strict=True)]
    groups = list(_row_groups(iter(parts)))
    assert [g.num_rows for g in groups] == [12, 11]
    assert all(g.column(0).num_chunks == 1 for g in groups)  # one row group each when written
    assert pa.concat_tables(groups).equals(pa.concat_tables(parts))
    assert list(_row_groups(iter([]))) == []
