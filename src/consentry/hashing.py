"""Many short values hashed with one key or prefix.

SHA-256 (the Merkle trees' hash) is hashed many values per call by ``consentry._sha256``, in C
and without the GIL: ``sha256_each`` of an Arrow column, ``sha256_pieces`` of a joined buffer.
BLAKE2b (pseudonyms, text hashes) goes through hashlib. Keying BLAKE2b, or feeding SHA-256 a
fixed prefix, costs a whole compression for every value; copying a state already keyed or fed
is cheaper, and for short values (ids) that is a large part of the work. hashlib has no batch
interface, so this is the loop, written as the tightest one CPython runs: one list
comprehension, the copy method bound once, ``update``'s ``None`` tested in the filter so that no
statement is executed per value (a plain ``for`` loop with ``append``, or a generator, costs
10-40% more per value).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import pyarrow as pa

from consentry import _sha256


class HashState(Protocol):
    def copy(self) -> HashState: ...

    def update(self, data: bytes | memoryview, /) -> object: ...

    def digest(self) -> bytes: ...


def digests(state: HashState, values: Iterable[bytes | memoryview]) -> list[bytes]:
    """The digest of each value, each hashed from a copy of ``state``."""
    fresh = state.copy
    return [h.digest() for value in values if (h := fresh()).update(value) is None]


def joined_digests(state: HashState, values: Iterable[bytes | memoryview]) -> bytes:
    """``digests`` concatenated: what a column of fixed-size digests is built from."""
    return b"".join(digests(state, values))


def sha256_each(prefix: bytes, values: pa.Array | pa.ChunkedArray) -> bytes:
    """SHA-256 of ``prefix`` + each value of a binary column, joined (32 bytes each); a null
    hashes as an empty value. The bytes are read where Arrow holds them."""
    if isinstance(values, pa.ChunkedArray):
        return b"".join(sha256_each(prefix, chunk) for chunk in values.chunks)
    if not pa.types.is_binary(values.type):
        values = values.cast(pa.binary())
    _, offsets, data = values.buffers()
    if offsets is None:  # an empty array may have no buffers at all
        return b""
    ends = offsets.slice(4 * values.offset, 4 * (len(values) + 1))  # int32, as the C loop reads
    return _sha256.many(prefix, b"" if data is None else data, ends)


def sha256_pieces(prefix: bytes, data: bytes, width: int) -> bytes:
    """SHA-256 of ``prefix`` + each ``width``-byte piece of ``data``, joined (32 bytes each)."""
    return _sha256.fixed(prefix, data, width)
