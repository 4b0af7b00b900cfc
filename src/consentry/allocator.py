"""How long Arrow's jemalloc keeps the pages a process frees, per kind of process: read by
jemalloc when it starts (with pyarrow), so set in the environment before pyarrow is imported.
No import here: the command line reads this before anything loads pyarrow.

Arrow's own setting keeps freed pages for a second (``dirty_decay_ms:1000``). The command's
process keeps them a tenth of that (``COMMAND_DECAY``): it holds what grows with the platform
(the delivery map's tally, the ledger's export), and a build that did its records there held
tens of MB more at 10M posts with a second (peak RSS 330 → 312 MB with a tenth). Its workers
keep Arrow's second (``WORKER_DECAY``): they free and allocate ~10 MB per chunk of records, and
a tenth of a second made them purge and fault pages back in, zeroed, all the time (3.5 % more
CPU for the build at 2M posts, alternating runs); what they hold is bounded by their tasks,
whatever the platform's size. Muzzy pages (freed lazily, MADV_FREE) still count as resident
until the kernel needs them: none are kept in either."""

from __future__ import annotations

from typing import Final

#: The variable Arrow's bundled jemalloc (symbols prefixed ``je_arrow_``) reads its options from.
JEMALLOC_CONF: Final = "JE_ARROW_MALLOC_CONF"
COMMAND_DECAY: Final = "dirty_decay_ms:100,muzzy_decay_ms:0"
WORKER_DECAY: Final = "dirty_decay_ms:1000,muzzy_decay_ms:0"
