"""A growing set of strings, looked up a batch at a time: ``KeySet``.

An import asks, batch after batch, "which of these keys did I see before?" while adding the new
ones. ``pc.is_in`` against everything seen builds a hash table of all of it for every batch, so
the cost of a batch grew with the input. Here the keys sit in sorted runs of their 64-bit hash
(``content.buckets.hash_ids``), each run holding half as many keys as the one before it or
fewer (two runs are merged when not: a key is re-sorted O(log n) times in all). A lookup is a
binary search per run, confirmed by comparing the keys themselves: a hash collision never
makes a new key look known. Memory: the keys, and 8 bytes each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import U64, hash_ids

Mask = npt.NDArray[np.bool_]


def _np(arr: Any) -> Mask:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=np.bool_)


class _Run:
    """Keys sorted by hash."""

    def __init__(self, hashes: U64, keys: pa.Array) -> None:
        order = np.argsort(hashes, kind="stable")
        self.hashes: U64 = hashes[order]
        self.keys: pa.Array = keys.take(pa.array(order))

    def __len__(self) -> int:
        return len(self.hashes)

    def contains(self, hashes: U64, keys: pa.Array) -> Mask:
        lo = np.searchsorted(self.hashes, hashes, side="left")
        hi = np.searchsorted(self.hashes, hashes, side="right")
        same_hash = hi > lo
        first = np.where(same_hash, lo, 0)
        found: Mask = same_hash & _np(pc.equal(self.keys.take(pa.array(first)), keys))
        # Several keys of this run share the hash (a collision: almost never): look at each.
        for i in np.nonzero(same_hash & ~found & (hi - lo > 1))[0].tolist():
            candidates = self.keys.slice(int(lo[i]), int(hi[i] - lo[i]))
            found[i] = keys[i].as_py() in candidates.to_pylist()
        return found


class KeySet:
    """Distinct strings, added and looked up a batch at a time (see the module docstring)."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    def add(self, keys: pa.Array | pa.ChunkedArray) -> None:
        """Add keys not in the set yet (the caller checked with ``contains``)."""
        keys = _string_array(keys)
        if len(keys) == 0:
            return
        self._runs.append(_Run(hash_ids(keys), keys))
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            newer, older = self._runs.pop(), self._runs.pop()
            merged_keys = pa.concat_arrays([older.keys, newer.keys])
            self._runs.append(_Run(np.concatenate([older.hashes, newer.hashes]), merged_keys))

    def contains(self, keys: pa.Array | pa.ChunkedArray) -> Mask:
        """Which of ``keys`` are in the set (null keys are not)."""
        keys = _string_array(keys)
        found = np.zeros(len(keys), dtype=np.bool_)
        if len(keys) == 0 or not self._runs:
            return found
        hashes = hash_ids(keys)
        for run in self._runs:
            found |= run.contains(hashes, keys)
        found &= _np(pc.is_valid(keys))
        return found


def _string_array(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    return keys.cast(pa.string())
