"""A growing set of strings, looked up a batch at a time: ``KeySet``.

An import asks, batch after batch, "which of these keys did I see before?" while adding the new
ones. ``pc.is_in`` against everything seen builds a hash table of all of it for every batch, so
the cost of a batch grew with the input. Here the keys sit in sorted runs of their 64-bit hash
(each run a ``content.hash_index.HashIndex``), each run holding half as many keys as the one
before it or fewer (two runs are merged when not: a key is re-sorted O(log n) times in all). A
lookup is a binary search per run, confirmed by comparing the keys themselves: a hash
collision never makes a new key look known.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from consentry.content.hash_index import HashIndex

Mask = npt.NDArray[np.bool_]


class KeySet:
    """Distinct strings, added and looked up a batch at a time (see the module docstring)."""

    def __init__(self) -> None:
        self._runs: list[HashIndex] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    def add(self, keys: pa.Array | pa.ChunkedArray) -> None:
        """Add keys not in the set yet (the caller checked with ``contains``)."""
        keys = _string_array(keys)
        if len(keys) == 0:
            return
        self._runs.append(HashIndex(keys))
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            newer, older = self._runs.pop(), self._runs.pop()
            self._runs.append(
                HashIndex(
                    pa.concat_arrays([older.values, newer.values]),
                    np.concatenate([older.hashes, newer.hashes]),
                )
            )

    def contains(self, keys: pa.Array | pa.ChunkedArray) -> Mask:
        """Which of ``keys`` are in the set (null keys are not)."""
        keys = _string_array(keys)
        found = np.zeros(len(keys), dtype=np.bool_)
        for run in self._runs:
            found |= run.find(keys) >= 0
        return found


def _string_array(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    return keys.cast(pa.string())
