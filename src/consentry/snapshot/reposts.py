"""Repost settling, a global reduction over the repost graph: a repost carries someone else's
words, so it takes its original's verdict wherever the original sits in the stream, through
chains of reposts of any length.

The census map emits the eligible reposts (their rows and their originals' content keys); the
originals are found by streaming every item's key once, in scan order, and the chains settled
by rounds until nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

import numpy as np
import numpy.typing as npt

from consentry.model import Reason
from consentry.snapshot.arrays import contains, locate

U64 = npt.NDArray[np.uint64]


def settle_reposts(
    reasons_at: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.int8]],
    duplicates: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    originals: U64,
    key_chunks: Callable[[], Iterator[tuple[int, U64]]],
) -> npt.NDArray[np.int8]:
    """The verdict each otherwise eligible repost (``rows``, ascending) takes from its
    original; a missing or unnamed original gives ``original_unavailable``. Repeated in case an
    original is itself a repost. Originals are found by streaming the spilled keys once: of
    items sharing a key, the first in scan order."""
    if len(rows) == 0:
        return np.empty(0, dtype=np.int8)
    wanted = np.unique(originals[originals != 0])
    where = np.full(len(wanted), -1, dtype=np.int64)  # scan row of each wanted original
    if len(wanted):
        maybe = KeyFilter(wanted)
        for offset, keys in key_chunks():
            # Only the few keys the filter lets through are searched for (a binary search of
            # every item's key cost seconds at 10M items).
            candidates = np.nonzero(maybe.may_hold(keys))[0]
            pos, is_wanted = locate(wanted, keys[candidates])
            matched = np.nonzero(is_wanted)[0]
            if len(matched) == 0:
                continue
            hit, pos = candidates[matched], pos[matched]  # ascending scan rows
            first_pos, first = np.unique(pos, return_index=True)  # earliest row per key
            unset = where[first_pos] < 0
            where[first_pos[unset]] = hit[first[unset]] + offset
        slot, named = locate(wanted, originals)
        found = named & (originals != 0) & (where[slot] >= 0)
        original_row = np.where(found, where[slot], 0)
    else:
        found = np.zeros(len(rows), dtype=np.bool_)
        original_row = np.zeros(len(rows), dtype=np.int64)
    # An original's verdict: as settled so far if it is one of these reposts, else as scanned
    # (with duplicates marked), read from disk at just those rows.
    in_rows, among_reposts = locate(rows, original_row)
    is_repost = found & among_reposts
    targets = np.unique(original_row[found & ~is_repost])
    fixed = reasons_at(targets)
    fixed[contains(duplicates, targets)] = Reason.DUPLICATE
    fixed_of, _ = locate(targets, original_row)
    fixed_reason = fixed[fixed_of] if len(targets) else np.zeros(len(rows), dtype=np.int8)
    # Until nothing changes: a chain of reposts settles one link per round, whatever its length
    # (a fixed number of rounds once left the end of a long chain included).
    settled = np.full(len(rows), Reason.ELIGIBLE, dtype=np.int8)
    for _ in range(len(rows) + 1):
        taken = np.where(
            found,
            np.where(is_repost, settled[in_rows], fixed_reason),
            np.int8(Reason.ORIGINAL_UNAVAILABLE),
        ).astype(np.int8)
        if np.array_equal(taken, settled):
            break
        settled = taken
    return settled


class KeyFilter:
    """A bitmap of the top bits of a set of 64-bit keys (512 KB): a key whose bit is clear is
    certainly not in the set; one whose bit is set may be (keys are uniformly mixed hashes:
    with a million keys in the set, about one key in five outside it passes)."""

    BITS: Final = 22

    def __init__(self, keys: U64) -> None:
        present = np.zeros(1 << self.BITS, dtype=np.bool_)
        present[self._slots(keys)] = True
        self._bitmap = np.packbits(present, bitorder="little")

    def _slots(self, keys: U64) -> npt.NDArray[np.int64]:
        out: npt.NDArray[np.int64] = (keys >> np.uint64(64 - self.BITS)).astype(np.int64)
        return out

    def may_hold(self, keys: U64) -> npt.NDArray[np.bool_]:
        slots = self._slots(keys)
        out: npt.NDArray[np.bool_] = (
            (self._bitmap[slots >> 3] >> (slots & 7).astype(np.uint8)) & 1
        ).astype(np.bool_)
        return out
