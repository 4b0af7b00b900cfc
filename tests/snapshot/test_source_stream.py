from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from consentry.snapshot.arrow_memory import build_memory_pool, returning_pool
from consentry.snapshot.source import _stream


def test_a_streamed_segment_yields_read_tables_rows_in_order(tmp_path: Path) -> None:
    table = pa.table(
        {
            "content_id": [f"c{i}" for i in range(1000)],
            "text": [None if i % 7 == 0 else f"t{i}" for i in range(1000)],
            "n": list(range(1000)),
        }
    )
    path = tmp_path / "seg.parquet"
    pq.write_table(table, path, row_group_size=77)
    batches = list(_stream(path, ["text", "content_id"], 300))
    assert all(0 < b.num_rows <= 300 for b in batches)
    assert pa.Table.from_batches(batches).equals(
        pq.read_table(path, columns=["text", "content_id"])
    )


def test_build_memory_pool_is_set_inside_and_restored_after() -> None:
    before = pa.default_memory_pool().backend_name
    with build_memory_pool() as pool:
        assert pa.default_memory_pool().backend_name == pool.backend_name
        assert pool.backend_name == returning_pool().backend_name
        assert pool.backend_name in {"jemalloc", "system"}
    assert pa.default_memory_pool().backend_name == before
