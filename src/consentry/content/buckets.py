"""Which bucket a record lives in: a stable 64-bit hash of its id, many ids per call.

pyarrow has no hash kernel, and Python's ``hash`` is salted per process; this one is a random
linear combination of the id's bytes (one 64-bit weight per byte position, position mod 256)
finished by the splitmix64 mixer — cheap over whole Arrow buffers (``consentry._idhash``, in C,
reads each id where Arrow holds it), good enough to spread ids evenly, and FIXED FOREVER:
stored data is laid out by it (``test_bucket_hash_is_stable``).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from consentry import _idhash
from consentry.hashing import binary_buffers

_WEIGHTS: Final = np.random.default_rng(0x5EED_C0DE).integers(
    1, np.iinfo(np.uint64).max, size=256, dtype=np.uint64, endpoint=True
) | np.uint64(1)
_LENGTH_WEIGHT: Final = np.uint64(0x9E3779B97F4A7C15)
_WEIGHTS_BYTES: Final = _WEIGHTS.tobytes()

U64 = npt.NDArray[np.uint64]


def _hash_chunk(arr: pa.Array) -> U64:
    buffers = binary_buffers(arr)
    if buffers is None:
        return np.zeros(len(arr), dtype=np.uint64)  # no values buffer: every value is empty
    out = np.empty(len(arr), dtype=np.uint64)
    _idhash.hash_ids(_WEIGHTS_BYTES, int(_LENGTH_WEIGHT), *buffers, out.data)
    return out


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
