"""The ``consentry`` command: thin Typer layers over the library."""

import os

#: The variable Arrow's bundled jemalloc (symbols prefixed ``je_arrow_``) reads its options from.
JEMALLOC_CONF = "JE_ARROW_MALLOC_CONF"
JEMALLOC_DECAY = "dirty_decay_ms:100,muzzy_decay_ms:0"

# Arrow's C++ code (Parquet readers and writers, most kernels) allocates from the process-wide
# default pool, chosen once, when pyarrow is first imported: ``pa.set_memory_pool`` later only
# reaches what pyarrow allocates itself. The default, mimalloc, keeps what a build frees for
# reuse: measured at 10M posts, a build's peak RSS was ~30 MB higher with it, and grew with the
# platform (see ``consentry.snapshot.arrow_memory``). So the command picks jemalloc, before
# anything imports pyarrow; an ARROW_DEFAULT_MEMORY_POOL already set is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
# Arrow's jemalloc keeps freed pages for a second before giving them back (its own setting,
# ``dirty_decay_ms:1000``): a build frees and allocates ~10 MB per chunk of records, so that
# second held tens of MB more at 10M posts. A tenth of it: peak RSS at 10M posts 330 → 312 MB
# for ~6% more CPU (every purge is a syscall, and pages come back zeroed). Muzzy pages (freed
# lazily, MADV_FREE) still count as resident until the kernel needs them: none are kept. Read
# by jemalloc when it starts (with pyarrow); a value already in the environment is kept.
os.environ.setdefault(JEMALLOC_CONF, JEMALLOC_DECAY)

from consentry.skipped_probes import skip_pandas_probe, skip_polars_probe  # noqa: E402

skip_pandas_probe()
skip_polars_probe()
