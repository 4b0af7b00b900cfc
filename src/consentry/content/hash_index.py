"""Strings looked up by their 64-bit hash: ``HashIndex``.

``pc.index_in`` / ``pc.is_in`` build a hash table of the whole value set on every call, so
asking batch after batch against a large set costs in proportion to the set, not the batch.
Here the values are sorted once by ``hash_ids``; a lookup is a binary search, confirmed by
comparing the strings themselves, so a hash collision never makes a match. Memory: the values,
and 8 bytes each (their hash).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import U64, hash_ids
from consentry.masks import bool_mask

I64 = npt.NDArray[np.int64]


class HashIndex:
    """``values`` (strings) in the order of their hash: ``values`` and ``hashes`` are in that
    order."""

    def __init__(self, values: pa.Array, hashes: U64 | None = None) -> None:
        """``hashes``: ``hash_ids(values)``, when the caller has them already."""
        self._fill(values, hashes)

    @classmethod
    def with_order(cls, values: pa.Array) -> tuple[HashIndex, I64]:
        """The index of ``values``, and where each of its values came from in ``values`` (for
        a caller that orders other arrays the same way)."""
        index = cls.__new__(cls)
        return index, index._fill(values, None)

    def _fill(self, values: pa.Array, hashes: U64 | None) -> I64:
        hashes = hash_ids(values) if hashes is None else hashes
        order: I64 = np.argsort(hashes, kind="stable")
        self.hashes: U64 = hashes[order]
        self.values: pa.Array = values.take(pa.array(order))
        return order

    @classmethod
    def presorted(cls, values: pa.Array, hashes: U64) -> HashIndex:
        """The index of ``values`` already in the order of their ``hashes`` (ascending): used
        as they are, not copied (values in a memory-mapped file stay there)."""
        index = cls.__new__(cls)
        index.hashes, index.values = hashes, values
        return index

    def __len__(self) -> int:
        return len(self.hashes)

    def find(self, keys: Any, hashes: U64 | None = None) -> I64:
        """The position in ``values`` of each key, -1 where it is absent or null (``hashes``:
        ``hash_ids(keys)``, when the caller has them)."""
        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks()
        out = np.full(len(keys), -1, dtype=np.int64)
        if len(keys) == 0 or len(self) == 0:
            return out
        hashes = hash_ids(keys) if hashes is None else hashes
        lo = np.searchsorted(self.hashes, hashes, side="left")
        hi = np.searchsorted(self.hashes, hashes, side="right")
        hit = (hi > lo) & bool_mask(pc.is_valid(keys))
        candidate = np.where(hit, lo, 0)
        found = hit & bool_mask(pc.equal(self.values.take(pa.array(candidate)), keys))
        out[found] = candidate[found]
        # Several values share the hash (a collision: almost never): compare with each.
        for row in np.nonzero(hit & ~found & (hi - lo > 1))[0].tolist():
            value = keys[row].as_py()
            for pos in range(int(lo[row]), int(hi[row])):
                if self.values[pos].as_py() == value:
                    out[row] = pos
                    break
        return out
