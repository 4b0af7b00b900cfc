"""A column of integers written once, in order, to an anonymous temporary file, then read back
by range: what a build keeps per input item but only reads a batch at a time (the authorising
ledger entry of every item, 8 bytes an item, 80 MB at 10M items, and its settled verdict, one
byte, need not stay in memory).

The file is unlinked from the start (``tempfile.TemporaryFile``): nothing is left behind, even
by a killed process, and it goes when the column is garbage-collected.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


class SpilledInts:
    """Append with ``append``, then ``finish``; read with ``between`` or ``array``."""

    def __init__(self, folder: Path | None = None, dtype: Any = np.int64) -> None:
        self.dtype = np.dtype(dtype)
        self._stored = self.dtype.newbyteorder("<")
        # Owned for the column's lifetime, not a block's: closed when the column goes.
        self._file = tempfile.TemporaryFile(prefix="consentry-ints-", dir=folder)  # noqa: SIM115
        self._size = 0
        self._finished = False

    def __len__(self) -> int:
        return self._size

    def append(self, values: npt.NDArray[np.integer]) -> None:
        if self._finished:
            raise ValueError("the column is finished: no more values")
        # Written from the array's own memory where it already has the stored layout: bytes()
        # would copy it first (10 MB for the verdicts of 10M items).
        stored = np.ascontiguousarray(values, dtype=self._stored)
        self._file.write(stored.data.cast("B"))
        self._size += len(values)

    def finish(self) -> None:
        self._file.flush()
        self._finished = True

    def between(self, start: int, end: int) -> npt.NDArray[Any]:
        """Values ``start`` to ``end`` (exclusive), as a fresh array."""
        self._require_finished()
        start, end = max(start, 0), min(end, self._size)
        if end <= start:
            return np.empty(0, dtype=self.dtype)
        size = self.dtype.itemsize
        data = os.pread(self._file.fileno(), (end - start) * size, start * size)
        return np.frombuffer(data, dtype=self._stored).astype(self.dtype, copy=True)

    def array(self) -> npt.NDArray[Any]:
        """Every value, read into memory (for callers that index it at random)."""
        return self.between(0, self._size)

    def view(self) -> SpilledView:
        """An array-like over the column that reads only the ranges it is sliced at: callers
        that walk it batch by batch never hold it in memory. (Not a memory map: mapped pages,
        once read, count as the process's resident memory.)"""
        self._require_finished()
        return SpilledView(self)

    def _require_finished(self) -> None:
        if not self._finished:
            raise ValueError("the column is still being written: finish it first")


class SpilledView:
    """What code written for an in-memory array needs of a ``SpilledInts``: length, dtype,
    slices (read from disk), any other index and comparisons (on the whole column)."""

    def __init__(self, column: SpilledInts) -> None:
        self._column = column
        self.dtype = column.dtype

    def __len__(self) -> int:
        return len(self._column)

    @property
    def shape(self) -> tuple[int]:
        return (len(self._column),)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(len(self._column))
            return self._column.between(start, stop)
        return self._column.array()[key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        whole = self._column.array()
        return whole if dtype is None else whole.astype(dtype)

    def __eq__(self, other: object) -> Any:
        return self._column.array() == other

    def __ne__(self, other: object) -> Any:
        return self._column.array() != other

    __hash__ = None  # type: ignore[assignment]
