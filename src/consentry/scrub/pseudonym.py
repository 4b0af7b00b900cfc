"""Keyed pseudonyms for account ids and content ids, one key set per recipient.

* Keys: HKDF-SHA256 (RFC 5869) from the workspace secret, with ``info`` naming the recipient
  (or "no recipient") and the domain (``account`` or ``content``). Two recipients, or an account
  id and a content id with the same text, therefore never share a pseudonym; one recipient gets
  the same pseudonyms in every snapshot.
* PRF: keyed BLAKE2b (a MAC by design, and several times faster than HMAC-SHA256 in Python).
  A plain hash would not do: ids are enumerable, so anyone could hash them all and link back.
* Output: a domain prefix and the truncated MAC in lower-case base32 (case-insensitive tools
  and file systems keep it intact). Accounts: ``u_`` + 16 characters (80 bits; the chance of
  any collision among a billion accounts is about 4e-7). Content: ``c_`` + 24 characters
  (120 bits), because a platform holds trillions of posts.

The secret and the derived keys never appear in a repr, a log or an exception message.
"""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consentry.hashing import blake2b_each

MIN_SECRET_BYTES: Final = 16
_SALT: Final = b"consentry pseudonym keys v1"
_MAC_SLICE: Final = 32_768


class Domain(StrEnum):
    ACCOUNT = "account"
    CONTENT = "content"


PREFIX: Final = {Domain.ACCOUNT: "u_", Domain.CONTENT: "c_"}
DIGEST_BYTES: Final = {Domain.ACCOUNT: 10, Domain.CONTENT: 15}
#: What an account pseudonym looks like, for detectors that must recognise their own output.
ACCOUNT_PSEUDONYM_PATTERN: Final = "u_[a-z2-7]{16}"


def _info(recipient: str | None, domain: Domain) -> bytes:
    # Length-prefixed fields: no recipient name can be made to collide with another, nor with
    # the "no recipient" label.
    who = b"none" if recipient is None else b"recipient:" + recipient.encode()
    return b"".join(len(part).to_bytes(2, "big") + part for part in (who, domain.value.encode()))


_BASE32: Final = b"abcdefghijklmnopqrstuvwxyz234567"
#: Every pair of base32 digits (10 bits) as its two characters, first character in the low
#: byte of a little-endian 16-bit word: four lookups write the 8 characters of 5 bytes.
_PAIRS: Final = np.array([_BASE32[i >> 5] | _BASE32[i & 31] << 8 for i in range(1024)], dtype="<u2")


def _base32_array(prefix: str, macs: bytes, size: int, count: int) -> pa.StringArray:
    """``prefix`` + lower-case base32 of each ``size``-byte MAC, as one Arrow array.

    The same characters as ``base64.b32encode`` (sizes are multiples of 5 bytes: no padding),
    computed for all MACs at once with numpy: Python's base32 is a per-byte loop. Each 5 bytes
    become one 40-bit integer, read 10 bits at a time through ``_PAIRS``, written straight into
    the rows of the output buffer (prefix included): no bit matrix, no concatenation.
    """
    groups = size // 5
    # Each 5 bytes in the low end of a big-endian 64-bit word: one copy, then native integers.
    padded = np.zeros((count, groups, 8), dtype=np.uint8)
    padded[..., 3:] = np.frombuffer(macs, dtype=np.uint8).reshape(count, groups, 5)
    forty = padded.view(">u8").reshape(count, groups).astype(np.uint64)
    head = prefix.encode()
    width = len(head) + groups * 8
    rows = np.empty((count, width), dtype=np.uint8)
    rows[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    body = rows[:, len(head) :].view("<u2").reshape(count, groups, 4)
    for j in range(4):
        body[..., j] = _PAIRS[(forty >> np.uint64(30 - 10 * j)) & np.uint64(1023)]
    offsets = np.arange(count + 1, dtype=np.int32) * width
    return pa.StringArray.from_buffers(
        count, pa.py_buffer(offsets.tobytes()), pa.py_buffer(rows.tobytes())
    )


def _with_nulls(ids: pa.Array, present: pa.Array) -> pa.StringArray:
    """``present`` (the pseudonyms of the non-null ``ids``, in order, all of one width) spread
    back over the rows of ``ids``, nulls where they are: the same bytes, other offsets. Most
    of a build's reference columns are null, and hashing a null as an empty id cost three
    times the hashing of the others."""
    valid = pc.is_valid(ids)
    width = len(present[0].as_py().encode()) if len(present) else 0
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum(valid.to_numpy(zero_copy_only=False) * np.int32(width), out=offsets[1:])
    data = pa.py_buffer(b"")
    if len(present):
        start = int(np.frombuffer(present.buffers()[1], dtype=np.int32)[present.offset])
        data = present.buffers()[2].slice(start)
    return pa.StringArray.from_buffers(
        len(ids), pa.py_buffer(offsets.tobytes()), data, valid.buffers()[1], ids.null_count
    )


class Pseudonymiser:
    """Pseudonyms for one recipient (``None``: snapshots not shared with a third party)."""

    __slots__ = ("_keys", "recipient")

    def __init__(self, secret: bytes, recipient: str | None = None) -> None:
        if not isinstance(secret, bytes | bytearray):
            raise TypeError("the workspace secret must be bytes")
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the workspace secret must be at least {MIN_SECRET_BYTES} bytes")
        self.recipient = recipient
        self._keys = {
            domain: HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=_SALT,
                info=_info(recipient, domain),
            ).derive(bytes(secret))
            for domain in Domain
        }

    def __repr__(self) -> str:
        return f"Pseudonymiser(recipient={self.recipient!r})"

    def __getstate__(self) -> dict[str, object]:
        # Executors may ship a pseudonymiser to workers: derived keys go, the secret never did.
        return {"recipient": self.recipient, "keys": self._keys}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.recipient = state["recipient"]  # type: ignore[assignment]
        self._keys = state["keys"]  # type: ignore[assignment]

    def _mac(self, domain: Domain, value: str) -> bytes:
        return hashlib.blake2b(
            value.encode(), key=self._keys[domain], digest_size=DIGEST_BYTES[domain]
        ).digest()

    def pseudonym(self, domain: Domain, value: str) -> str:
        return PREFIX[domain] + base64.b32encode(self._mac(domain, value)).decode().lower()

    def account(self, value: str) -> str:
        return self.pseudonym(Domain.ACCOUNT, value)

    def content(self, value: str) -> str:
        return self.pseudonym(Domain.CONTENT, value)

    def array(self, domain: Domain, ids: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        """Pseudonyms of a string array, a MAC per non-null value; nulls stay null."""
        if isinstance(ids, pa.ChunkedArray):
            return pa.chunked_array([self.array(domain, c) for c in ids.chunks], type=pa.string())
        if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
            if pa.types.is_dictionary(ids.type):
                ids = ids.cast(pa.string())
            else:
                raise TypeError(f"ids must be strings, not {ids.type}")
        if ids.null_count:
            return _with_nulls(ids, self.array(domain, ids.drop_null()))
        # Every value hashed, repeated ones too: a MAC of an id costs less than finding its
        # repeats would. A slice at a time: the base32 digits' buffers (8 bytes per 5 of MAC)
        # stay small for a chunk of a build.
        size = DIGEST_BYTES[domain]
        pieces = []
        for start in range(0, len(ids), _MAC_SLICE):
            values = ids.slice(start, _MAC_SLICE)
            macs = blake2b_each(self._keys[domain], size, values)
            pieces.append(_base32_array(PREFIX[domain], macs, size, len(values)))
        return pa.concat_arrays(pieces) if pieces else pa.array([], pa.string())

    def accounts(self, ids: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        return self.array(Domain.ACCOUNT, ids)

    def contents(self, ids: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        return self.array(Domain.CONTENT, ids)
