"""Small array helpers the build's steps share: lookups in sorted arrays, concatenation of
parts that may be none. One home each (they were written out in several modules); Arrow masks
as numpy are ``consentry.masks``'."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def locate(
    sorted_keys: npt.NDArray[Any], keys: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Where each of ``keys`` is in an ascending array (content keys, row numbers), and whether
    it is there at all (position 0 where not), vectorised."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=np.bool_)
    # Searching the keys in ascending order is ~5x faster on millions of sorted keys (numpy
    # starts each search where the previous one ended, and memory is walked forwards).
    order = np.argsort(keys)
    pos = np.empty(len(keys), dtype=np.int64)
    pos[order] = np.searchsorted(sorted_keys, keys[order])
    pos[pos >= len(sorted_keys)] = 0
    found: npt.NDArray[np.bool_] = sorted_keys[pos] == keys
    return pos, found


def contains(sorted_keys: npt.NDArray[Any], keys: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Membership of ``keys`` in an ascending array, vectorised."""
    return locate(sorted_keys, keys)[1]


def concat(parts: list[Any], dtype: Any) -> Any:
    """``parts`` end to end as one array of ``dtype`` (an empty one if there are none)."""
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)
