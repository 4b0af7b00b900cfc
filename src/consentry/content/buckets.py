"""Which bucket a record lives in: a stable 64-bit hash of its id, vectorised with numpy.

pyarrow has no hash kernel, and Python's ``hash`` is salted per process; this one is a random
linear combination of the id's bytes (one 64-bit weight per byte position, position mod 256)
finished by the splitmix64 mixer — cheap over whole Arrow buffers, good enough to spread ids
evenly, and FIXED FOREVER: stored data is laid out by it (``test_bucket_hash_is_stable``).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

_WEIGHTS: Final = np.random.default_rng(0x5EED_C0DE).integers(
    1, np.iinfo(np.uint64).max, size=256, dtype=np.uint64, endpoint=True
) | np.uint64(1)
_LENGTH_WEIGHT: Final = np.uint64(0x9E3779B97F4A7C15)

U64 = npt.NDArray[np.uint64]


def _mix(h: U64) -> U64:
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    out: U64 = h ^ (h >> np.uint64(31))
    return out


def _hash_chunk(arr: pa.Array) -> U64:
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[arr.offset : arr.offset + n + 1]
    offsets = offsets.astype(np.int64)
    start, end = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets)
    h = lengths.astype(np.uint64) * _LENGTH_WEIGHT
    if end == start:
        return _mix(h)
    data = np.frombuffer(data_buf, dtype=np.uint8)
    weights = _WEIGHTS[np.arange(int(lengths.max()), dtype=np.int64) & 255]
    # Ids of one length form an (n, length) byte matrix: one multiply-add per byte. Exports
    # use few id lengths (often one: then the matrix is a view of Arrow's buffer, no copy).
    # Distinct lengths by counting (cheaper than numpy's ``unique``, which hashes every value).
    for length in np.flatnonzero(np.bincount(lengths)).tolist():
        if length == 0:
            continue
        if length == lengths[0] and (lengths == length).all():
            h += _weighted_sum(data[start:end].reshape(n, length), weights)
            continue
        rows = np.nonzero(lengths == length)[0]
        h[rows] += _weighted_sum(data[offsets[rows][:, None] + np.arange(length)], weights)
    return _mix(h)


def _weighted_sum(matrix: npt.NDArray[np.uint8], weights: U64) -> U64:
    """Row-wise sum of byte × weight of its position, modulo 2**64. Column by column: the
    (rows, length) uint64 product a one-shot multiply-and-sum would build is 8× the bytes and
    makes it ~4x slower."""
    acc = np.zeros(len(matrix), dtype=np.uint64)
    column = np.empty(len(matrix), dtype=np.uint64)
    for j in range(matrix.shape[1]):
        column[:] = matrix[:, j]
        column *= weights[j]
        acc += column
    return acc


def hash_ids(ids: pa.Array | pa.ChunkedArray) -> U64:
    """A stable 64-bit hash per string (nulls hash as the empty string)."""
    if isinstance(ids, pa.ChunkedArray):
        parts = [_hash_chunk(c) for c in ids.chunks]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
    return _hash_chunk(ids)


def bucket_of(ids: pa.Array | pa.ChunkedArray, buckets: int) -> npt.NDArray[np.int64]:
    """The bucket (0 ≤ b < ``buckets``) of each id."""
    return bucket_from_hash(hash_ids(ids), buckets)


def bucket_from_hash(hashes: U64, buckets: int) -> npt.NDArray[np.int64]:
    """The bucket of ids whose ``hash_ids`` are ``hashes``."""
    out: npt.NDArray[np.int64] = ((hashes >> np.uint64(32)) % np.uint64(buckets)).astype(np.int64)
    return out
