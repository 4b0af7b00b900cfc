"""Detections of one batch as columns: which row, where (code points and UTF-8 bytes), what.

Detectors return ``Found``; the scrubber concatenates them, settles overlaps, and splices the
replacements in. Code-point offsets are what people and the ground truth use; byte offsets are
what the vectorised splice needs, and are cheap to get at detection time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from consentry.scrub.types import TYPE_CODE

Int64s = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Found:
    rows: Int64s  # index of the row in the batch the detector was given
    start: Int64s  # code points
    end: Int64s
    bstart: Int64s  # UTF-8 bytes
    bend: Int64s
    values: pa.StringArray  # the matched text, ``text[start:end]``
    kind: npt.NDArray[np.int8]  # code in ``PII_TYPES``

    def __len__(self) -> int:
        return len(self.rows)

    @staticmethod
    def empty() -> Found:
        z = np.zeros(0, dtype=np.int64)
        return Found(z, z, z, z, z, pa.array([], pa.string()), np.zeros(0, dtype=np.int8))

    @staticmethod
    def of_type(
        type_name: str,
        rows: Int64s,
        start: Int64s,
        end: Int64s,
        bstart: Int64s,
        bend: Int64s,
        values: pa.StringArray,
    ) -> Found:
        kind = np.full(len(rows), TYPE_CODE[type_name], dtype=np.int8)
        return Found(rows, start, end, bstart, bend, values, kind)

    def take(self, idx: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> Found:
        if idx.dtype == np.bool_:
            idx = np.flatnonzero(idx)
        return Found(
            self.rows[idx],
            self.start[idx],
            self.end[idx],
            self.bstart[idx],
            self.bend[idx],
            self.values.take(pa.array(idx, pa.int64())),
            self.kind[idx],
        )

    def remap_rows(self, row_ids: Int64s) -> Found:
        """Rows of a sub-batch (``batch.take(row_ids)``) back to rows of the batch."""
        return Found(
            row_ids[self.rows],
            self.start,
            self.end,
            self.bstart,
            self.bend,
            self.values,
            self.kind,
        )


class FoundBuilder:
    """Collects spans found by Python code (validators, parsers, models) into a ``Found``."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self._cols: tuple[list[int], list[int], list[int], list[int], list[int]] = (
            [],
            [],
            [],
            [],
            [],
        )
        self._values: list[str] = []

    def add(
        self, row: int, text: str, start: int, end: int, *, offset: int = 0, boffset: int = 0
    ) -> None:
        """``text[start:end]`` of batch row ``row``, where ``text`` itself begins ``offset``
        code points (``boffset`` bytes) into the row."""
        b0 = boffset + len(text[:start].encode("utf-8"))
        part = text[start:end]
        for column, value in zip(
            self._cols,
            (row, offset + start, offset + end, b0, b0 + len(part.encode("utf-8"))),
            strict=True,
        ):
            column.append(value)
        self._values.append(part)

    def build(self) -> Found:
        if not self._values:
            return Found.empty()
        rows, start, end, bstart, bend = (np.array(c, dtype=np.int64) for c in self._cols)
        values = pa.array(self._values, pa.string())
        return Found.of_type(self.type_name, rows, start, end, bstart, bend, values)


_C = TypeVar("_C")


def concat_columns(parts: Sequence[_C]) -> _C:
    """Concatenate non-empty dataclasses of equal-length columns (numpy or Arrow) field by
    field: the one way ``Found`` and ``marking.Matches`` are joined."""
    first = parts[0]
    if len(parts) == 1:
        return first
    columns = []
    for f in fields(first):  # type: ignore[arg-type]
        values = [getattr(p, f.name) for p in parts]
        join = pa.concat_arrays if isinstance(values[0], pa.Array) else np.concatenate
        columns.append(join(values))
    return type(first)(*columns)


def concat(parts: Sequence[Found]) -> Found:
    parts = [p for p in parts if len(p)]
    return concat_columns(parts) if parts else Found.empty()


def settle_overlaps(found: Found, priority: npt.NDArray[np.int64]) -> Found:
    """Sort by row and position and keep, where spans overlap, the leftmost, then longest one.

    ``priority`` (lower wins) is indexed by type code and breaks exact ties (same start, same
    end). A span is dropped when it starts before the end of any earlier span of its row, even
    one that was itself dropped: unlike a greedy pass this is a few numpy calls, and the
    difference needs three detections chained in overlap, which real text does not produce.
    """
    if len(found) == 0:
        return found
    order = np.lexsort((priority[found.kind], -found.end, found.start, found.rows))
    f = found.take(order)
    if len(f) == 1:
        return f
    # Running maximum of ``end`` within each row: rows are sorted, so shifting each end by
    # ``row * big`` keeps one row's maximum from leaking into the next.
    big = int(f.end.max()) + 1
    keyed = f.rows * big + f.end
    running = np.maximum.accumulate(keyed)
    prev = np.empty_like(running)
    prev[0] = -1
    prev[1:] = running[:-1]
    prev_end = prev - f.rows * big  # negative when no earlier span in this row
    keep = f.start >= prev_end
    return f if keep.all() else f.take(keep)
