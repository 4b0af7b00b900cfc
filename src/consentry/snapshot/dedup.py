"""Exact deduplication, a global reduction over hash partitions: of identical normalised texts
the earliest (then the smallest content key) stays, every other one is a duplicate.

The census map emits one candidate per eligible item with text (``CANDIDATE``); identical texts
have identical hashes, so they fall in the same partition (the top bits of the hash) and each
partition is settled alone, by whichever worker takes it: the shuffle of a map-reduce.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import numpy.typing as npt

from consentry.snapshot.arrays import concat

#: Candidates are split into this many partitions by the top bits of their text hash; settling
#: one at a time holds 1/64 of them (at 10M posts: ~1.6M candidates, ~1 MB a partition).
DEDUP_PARTITIONS: Final = 64
_PARTITION_SHIFT: Final = np.uint64(64 - 6)  # log2(DEDUP_PARTITIONS) top bits
#: One duplicate candidate: 128-bit text hash, creation time (µs), content key, scan row.
CANDIDATE: Final = np.dtype(
    [("h0", "<u8"), ("h1", "<u8"), ("created", "<i8"), ("key", "<u8"), ("row", "<i8")]
)


def partition_of(candidates: npt.NDArray[np.void]) -> npt.NDArray[np.int64]:
    """The partition of each candidate (identical texts, identical partitions)."""
    out: npt.NDArray[np.int64] = (candidates["h0"] >> _PARTITION_SHIFT).astype(np.int64)
    return out


def duplicate_rows(partitions: Iterable[npt.NDArray[np.void]]) -> npt.NDArray[np.int64]:
    """Of identical texts among the candidates of each of ``partitions`` (whole partitions), all
    but the earliest (then the smallest content key): their rows, ascending."""
    rows: list[npt.NDArray[np.int64]] = []
    for part in partitions:
        if len(part) < 2:
            continue
        order = np.lexsort((part["key"], part["created"], part["h1"], part["h0"]))
        h0, h1 = part["h0"][order], part["h1"][order]
        same_as_previous = np.zeros(len(order), dtype=np.bool_)
        same_as_previous[1:] = (h0[1:] == h0[:-1]) & (h1[1:] == h1[:-1])
        rows.append(part["row"][order[same_as_previous]].astype(np.int64))
    out: npt.NDArray[np.int64] = concat(rows, np.int64)
    out.sort()
    return out
