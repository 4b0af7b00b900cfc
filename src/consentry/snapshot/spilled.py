"""A column of int64 written once, in order, to an anonymous temporary file, then read back by
range: what a build keeps per input item but only reads a batch at a time (the authorising
ledger entry of every item, 8 bytes an item, 80 MB at 10M items, need not stay in memory).

The file is unlinked from the start (``tempfile.TemporaryFile``): nothing is left behind, even
by a killed process, and it goes when the column is garbage-collected.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
_ITEM: Final = 8
_DTYPE: Final = np.dtype("<i8")


class SpilledInts:
    """Append with ``append``, then ``finish``; read with ``between`` or ``array``."""

    def __init__(self, folder: Path | None = None) -> None:
        # Owned for the column's lifetime, not a block's: closed when the column goes.
        self._file = tempfile.TemporaryFile(prefix="consentry-ints-", dir=folder)  # noqa: SIM115
        self._size = 0
        self._finished = False

    def __len__(self) -> int:
        return self._size

    def append(self, values: npt.NDArray[np.integer]) -> None:
        if self._finished:
            raise ValueError("the column is finished: no more values")
        self._file.write(np.ascontiguousarray(values, dtype=_DTYPE).tobytes())
        self._size += len(values)

    def finish(self) -> None:
        self._file.flush()
        self._finished = True

    def between(self, start: int, end: int) -> I64:
        """Values ``start`` to ``end`` (exclusive), as a fresh array."""
        self._require_finished()
        start, end = max(start, 0), min(end, self._size)
        if end <= start:
            return np.empty(0, dtype=np.int64)
        data = os.pread(self._file.fileno(), (end - start) * _ITEM, start * _ITEM)
        return np.frombuffer(data, dtype=_DTYPE).astype(np.int64, copy=True)

    def array(self) -> I64:
        """Every value, as a read-only array mapped from the file (pages are read on use)."""
        self._require_finished()
        if self._size == 0:
            return np.empty(0, dtype=np.int64)
        mapped: I64 = np.memmap(self._file, dtype=_DTYPE, mode="r", shape=(self._size,))
        return mapped

    def _require_finished(self) -> None:
        if not self._finished:
            raise ValueError("the column is still being written: finish it first")
