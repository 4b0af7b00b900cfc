"""Many short values hashed with one key or prefix, many per call, in C and without the GIL.

SHA-256 (the Merkle trees' hash) by ``consentry._sha256`` (OpenSSL's): ``sha256_each`` of an
Arrow column, ``sha256_pieces`` of a joined buffer. BLAKE2b (pseudonyms, text hashes) by
``consentry._blake2b``: ``blake2b_each`` of an Arrow column. hashlib hashes one value per call,
and for short values (ids, posts) the call costs more than the hashing. The bytes are read
where Arrow holds them: no Python object per value.
"""

from __future__ import annotations

import pyarrow as pa

from consentry import _blake2b, _sha256


def binary_buffers(
    values: pa.Array, *, nulls_empty: bool = True
) -> tuple[bytes | pa.Buffer, pa.Buffer] | None:
    """The data and int32 end offsets of a binary or string array, for the C loops; None when
    it has no values buffer at all (an empty array may have none). Arrow lets a null's slot
    hold bytes: with ``nulls_empty`` (for loops that read every value) a null is made an empty
    value, which copies the array; without it (for loops that never read a null's slot) its
    slot is left as it is."""
    if not pa.types.is_binary(values.type):
        values = values.cast(pa.binary())
    if nulls_empty and values.null_count:
        values = values.fill_null(b"")
    _, offsets, data = values.buffers()
    if offsets is None:
        return None
    ends = offsets.slice(4 * values.offset, 4 * (len(values) + 1))  # int32, as the C loops read
    return (b"" if data is None else data), ends


def sha256_each(prefix: bytes, values: pa.Array | pa.ChunkedArray) -> bytes:
    """SHA-256 of ``prefix`` + each value of a binary column, joined (32 bytes each); a null
    hashes as an empty value."""
    if isinstance(values, pa.ChunkedArray):
        return b"".join(sha256_each(prefix, chunk) for chunk in values.chunks)
    buffers = binary_buffers(values)
    return b"" if buffers is None else _sha256.many(prefix, *buffers)


def sha256_pieces(prefix: bytes, data: bytes, width: int) -> bytes:
    """SHA-256 of ``prefix`` + each ``width``-byte piece of ``data``, joined (32 bytes each)."""
    return _sha256.fixed(prefix, data, width)


def blake2b_each(key: bytes, size: int, values: pa.Array | pa.ChunkedArray) -> bytes:
    """BLAKE2b of each value of a binary or string column, ``size`` bytes each, joined; keyed
    with ``key`` unless it is empty (each is ``hashlib.blake2b(value, key=key,
    digest_size=size)``); a null hashes as an empty value."""
    if isinstance(values, pa.ChunkedArray):
        return b"".join(blake2b_each(key, size, chunk) for chunk in values.chunks)
    buffers = binary_buffers(values)
    return b"" if buffers is None else _blake2b.many(key, size, *buffers)
