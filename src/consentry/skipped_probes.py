"""Libraries' one-time looks for optional packages Consentry never hands them, skipped.

On its first ``pa.array`` call, pyarrow imports pandas when it is installed (Ray and Altair
bring it) to tell whether the value is a pandas object: ~0.35 CPU-s on every start of a build's
processes, for objects Consentry never passes it. ADBC's DB-API module imports polars when it is
installed (the benchmarks bring it), to bind and fetch polars frames: ~0.13 CPU-s on every
command that opens a ledger, and ~0.07 s more at its exit. ``skip_pandas_probe`` and
``skip_polars_probe`` let those looks find nothing. Either library still imports the package
later for whatever needs it (``to_pandas``, ``Table.from_pandas``; polars itself works, only
ADBC's polars binding is off), so only our own processes call these (the command line, the
build's forkserver): a library user's process keeps the libraries' own behaviour.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType


class _Refusing(MetaPathFinder):
    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] == self.package:
            raise ImportError(f"{self.package} is not looked for by this one-time probe")
        return None


@contextmanager
def _refusing(package: str) -> Iterator[None]:
    """Inside the block, ``package`` is not found."""
    finder = _Refusing(package)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def skip_pandas_probe() -> None:
    """Make pyarrow's one-time look for pandas find none (nothing to do if pandas is loaded or
    pyarrow has already looked)."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    with _refusing("pandas"):
        pa.array([0])  # inferring a type is what looks (an explicit type does not)


def skip_polars_probe() -> None:
    """Load ADBC's DB-API module (the ledgers' bulk reads) without its look for polars
    (nothing to do if either is loaded already)."""
    if "polars" in sys.modules or "adbc_driver_manager.dbapi" in sys.modules:
        return
    with _refusing("polars"):
        import adbc_driver_manager.dbapi  # noqa: F401
