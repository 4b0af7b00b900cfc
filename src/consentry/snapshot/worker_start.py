"""What the local executor's forkserver loads once, before it forks the build's workers: the
steps' modules and the scrubber's, its patterns compiled, after pyarrow's look for pandas is
skipped (``consentry.arrow_without_pandas``). Workers forked from it load nothing."""

from consentry.arrow_without_pandas import skip_pandas_probe

skip_pandas_probe()

import consentry.scrub.snapshot  # noqa: E402
import consentry.snapshot.steps  # noqa: E402, F401
from consentry.scrub.detectors import warm  # noqa: E402

warm()
