from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from consentry.snapshot.census import coalesced
from consentry.snapshot.manifest import leaf_data, leaf_hashes
from consentry.snapshot.merkle import leaf_hash
from consentry.snapshot.spilled import SpilledInts


def test_spilled_ints_read_back_by_range_and_whole(tmp_path: Path) -> None:
    column = SpilledInts(tmp_path)
    parts = [np.array([5, -1, 7], dtype=np.int64), np.array([], dtype=np.int64), np.arange(4)]
    for part in parts:
        column.append(part)
    column.finish()
    whole = np.concatenate(parts).astype(np.int64)
    assert len(column) == 7
    np.testing.assert_array_equal(column.between(0, 7), whole)
    np.testing.assert_array_equal(column.between(2, 5), whole[2:5])
    np.testing.assert_array_equal(column.between(5, 100), whole[5:])
    assert len(column.between(7, 9)) == 0
    assert column.between(1, 3).flags.writeable
    np.testing.assert_array_equal(column.array(), whole)
    assert column.array().dtype == np.int64
    assert list(tmp_path.iterdir()) == []  # unlinked from the start


def test_spilled_ints_must_be_finished_before_reading_and_not_after_writing() -> None:
    column = SpilledInts()
    column.append(np.array([1], dtype=np.int64))
    with pytest.raises(ValueError, match="finish"):
        column.between(0, 1)
    column.finish()
    with pytest.raises(ValueError, match="finished"):
        column.append(np.array([2], dtype=np.int64))
    empty = SpilledInts()
    empty.finish()
    assert len(empty.array()) == 0 and len(empty.between(0, 3)) == 0


def test_coalesced_keeps_rows_and_order_in_batches_of_at_least_the_size() -> None:
    table = pa.table({"a": list(range(23)), "s": [f"x{i}" for i in range(23)]})
    empty = pa.RecordBatch.from_pylist([], schema=table.schema)
    batches = [*table.to_batches(max_chunksize=4), empty]
    out = list(coalesced(batches, 10))
    assert [b.num_rows for b in out] == [12, 11]
    assert pa.Table.from_batches(out).equals(table)
    assert list(coalesced([], 10)) == []


def test_leaf_hashes_match_one_leaf_at_a_time() -> None:
    ids = pa.chunked_array([pa.array(["c_a", "c_é"]), pa.array(["c_\x00b"])])
    entries = pa.chunked_array([pa.array([3, None], pa.int64()), pa.array([2**40], pa.int64())])
    expected = [
        leaf_hash(leaf_data(r, e))
        for r, e in zip(ids.to_pylist(), entries.to_pylist(), strict=True)
    ]
    assert leaf_hashes(ids, entries) == b"".join(expected)


def test_spilled_view_reads_slices_from_disk_and_acts_as_an_array() -> None:
    column = SpilledInts()
    column.append(np.array([4, -1, 9, 9], dtype=np.int64))
    column.finish()
    view = column.view()
    assert len(view) == 4 and view.shape == (4,) and view.dtype == np.int64
    np.testing.assert_array_equal(view[1:3], [-1, 9])
    np.testing.assert_array_equal(view[1:3][np.array([1])], [9])
    np.testing.assert_array_equal(view[np.array([0, 3])], [4, 9])
    np.testing.assert_array_equal(view[::2], [4, 9])
    assert view[2] == 9
    np.testing.assert_array_equal(view == 9, [False, False, True, True])
    np.testing.assert_array_equal(np.asarray(view), [4, -1, 9, 9])


def test_spilled_int8_column_keeps_its_type_and_values() -> None:
    codes = np.array([0, 3, -1, 127, -128, 5], dtype=np.int8)
    column = SpilledInts(dtype=np.int8)
    column.append(codes[:4])
    column.append(codes[4:])
    column.finish()
    view = column.view()
    assert view.dtype == np.int8 and column.between(1, 4).dtype == np.int8
    np.testing.assert_array_equal(column.between(1, 4), codes[1:4])
    np.testing.assert_array_equal(np.asarray(view), codes)
    np.testing.assert_array_equal(view == 5, codes == 5)
