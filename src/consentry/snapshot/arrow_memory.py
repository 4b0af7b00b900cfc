"""Which allocator Arrow uses while a build runs.

pyarrow's default, mimalloc, keeps what a build frees for reuse (per thread, and Parquet reads
run on a pool of threads) and gives little of it back: measured on the demo platform, the
resident memory of a build was ~100 MB higher with it than with jemalloc (which returns freed
pages after a short decay) for the same CPU time, at 1M posts as at 10M.

Two levels: Arrow's C++ code (Parquet readers and writers, kernels called without a pool)
allocates from the process-wide default chosen when pyarrow is first imported, which only the
ARROW_DEFAULT_MEMORY_POOL variable sets: the ``consentry`` command sets it to jemalloc before
importing pyarrow (``consentry.cli``). What pyarrow allocates itself follows
``pa.set_memory_pool``: a build switches it to jemalloc too (the system allocator where pyarrow
was built without it), and back when it is done, which is all a library caller that imported
pyarrow first gets. With mimalloc left as the process default, 6–10 MB of Parquet buffers
stayed live in it through the records pass and its retained pages grew with the platform (at
10M posts, peak RSS ~30 MB higher). How long jemalloc keeps freed pages is also set by the
command, before pyarrow starts (``JE_ARROW_MALLOC_CONF``): a tenth of a second, not Arrow's
second.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable, Iterator
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


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, where the C library is glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_freed_memory() -> None:
    """Give memory freed so far back to the system, at the end of a phase of a build.

    What one phase frees (the ledger read and folded, the accounts read for mentions: tens of
    MB for 100,000 accounts, in SQLite's driver, numpy and Arrow) would otherwise stay
    resident, held by the allocators for reuse, into the next phase. Measured at 10M posts:
    ~30 MB less resident when the census starts; the peak (in the records pass) did not drop
    beyond run-to-run noise. What returns memory is glibc's trim: jemalloc's
    ``release_unused`` gave back nothing measurable here (its pages go after its own decay)."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
