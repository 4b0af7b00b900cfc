"""Which allocator Arrow uses while a build runs.

pyarrow's default, mimalloc, keeps what a build frees for reuse (per thread, and Parquet reads
run on a pool of threads) and gives little of it back: measured on the demo platform, the
resident memory of a build was ~100 MB higher with it than with jemalloc (which returns freed
pages after a short decay) for the same CPU time, at 1M posts as at 10M. So a build switches
Arrow's default pool to jemalloc (the system allocator where pyarrow was built without it), and
back when it is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa


def returning_pool() -> pa.MemoryPool:
    """jemalloc where pyarrow has it, else the system allocator."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


@contextmanager
def build_memory_pool() -> Iterator[pa.MemoryPool]:
    """Arrow's default pool is ``returning_pool()`` inside the block (process-wide: Arrow has
    no other way to reach the allocations Parquet and compute kernels make)."""
    previous = pa.default_memory_pool()
    pool = returning_pool()
    pa.set_memory_pool(pool)
    try:
        yield pool
    finally:
        pa.set_memory_pool(previous)
