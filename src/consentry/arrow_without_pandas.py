"""pyarrow's first conversion of a value, without importing pandas.

On its first ``pa.array`` call, pyarrow imports pandas when it is installed (Ray and Altair
bring it) to tell whether the value is a pandas object: ~0.35 CPU-s on every start of a build's
processes, for objects Consentry never passes it. ``skip_pandas_probe`` lets that first look
find no pandas. pyarrow still imports pandas later for whatever needs it (``to_pandas``,
``Table.from_pandas``), so only our own processes call this (the command line, the build's
forkserver): a library user's process keeps pyarrow's own behaviour.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType


class _NoPandas(MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] == "pandas":
            raise ImportError("pandas is not looked for during pyarrow's first conversion")
        return None


def skip_pandas_probe() -> None:
    """Make pyarrow's one-time look for pandas find none (nothing to do if pandas is loaded or
    pyarrow has already looked)."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # inferring a type is what looks (an explicit type does not)
    finally:
        sys.meta_path.remove(finder)
