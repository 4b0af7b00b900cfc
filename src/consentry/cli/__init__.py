"""The ``consentry`` command: thin Typer layers over the library."""

import os

from consentry.allocator import COMMAND_DECAY, JEMALLOC_CONF

# Arrow's C++ code (Parquet readers and writers, most kernels) allocates from the process-wide
# default pool, chosen once, when pyarrow is first imported: ``pa.set_memory_pool`` later only
# reaches what pyarrow allocates itself. The default, mimalloc, keeps what a build frees for
# reuse: measured at 10M posts, a build's peak RSS was ~30 MB higher with it, and grew with the
# platform (see ``consentry.snapshot.arrow_memory``). So the command picks jemalloc, before
# anything imports pyarrow; an ARROW_DEFAULT_MEMORY_POOL already set is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
# How long jemalloc keeps freed pages, before pyarrow starts it (``consentry.allocator``); a
# value already in the environment is kept.
os.environ.setdefault(JEMALLOC_CONF, COMMAND_DECAY)

from consentry.skipped_probes import skip_pandas_probe, skip_polars_probe

skip_pandas_probe()
skip_polars_probe()
