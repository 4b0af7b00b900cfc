"""What the local executor's forkserver loads once, before it forks the build's workers: the
steps' modules and the scrubber's, its patterns compiled, after pyarrow's look for pandas is
skipped (``consentry.skipped_probes``), with the workers' jemalloc decay
(``consentry.allocator``). Workers forked from it load nothing.

What it loaded is then frozen (``gc.freeze``): the collector's full sweeps, in the workers as
they build and in the server as it exits, no longer walk the ~90,000 objects of the modules,
which live as long as the process anyway."""

import gc
import os

from consentry.allocator import COMMAND_DECAY, JEMALLOC_CONF, WORKER_DECAY

# Before pyarrow starts jemalloc here: the workers' own decay, unless someone set another.
if os.environ.get(JEMALLOC_CONF) == COMMAND_DECAY:
    os.environ[JEMALLOC_CONF] = WORKER_DECAY

from consentry.skipped_probes import skip_pandas_probe

skip_pandas_probe()

import consentry.scrub.snapshot  # noqa: E402
import consentry.snapshot.steps  # noqa: E402, F401
from consentry.scrub.detectors import warm  # noqa: E402

warm()
gc.freeze()
