"""Ledger entries as stored, their canonical encoding, and the hash chain.

Chain format (stable: third parties may verify a ledger with it):

    payload  = netstring encoding of the entry's fields, in ``PAYLOAD_FIELDS`` order; a missing
               value is ``-``, a present one ``<length>:<text>`` (length in code points), fields
               joined by ``|``
    digest   = SHA-256(salt ‖ UTF-8(payload))                     (salt: 16 random bytes)
    hash     = SHA-256(prev_hash ‖ seq as 8-byte big-endian ‖ digest)
    prev_hash of entry 1 is 32 zero bytes; a position is (seq, hash of entry seq).

Why a salted digest in the middle: an erasure (GDPR art. 17) can later drop an entry's payload
and salt while its digest keeps the chain verifiable, and the digest alone reveals nothing that
could be brute-forced back from enumerable ids.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Final

from consentry.model import (
    ACCOUNT_ATTRIBUTES,
    AccountChange,
    AccountStatus,
    ConsentDecision,
)

GENESIS_HASH: Final = bytes(32)
SALT_BYTES: Final = 16


class EntryKind(StrEnum):
    CONSENT = "consent"
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_CHANGED = "account_changed"


#: Columns of an entry's payload, in chain order. Account attributes are stored one column each
#: with a bit in ``attr_mask`` saying which ones the entry sets (a None value can be meaningful:
#: "birth date unknown").
PAYLOAD_FIELDS: Final = (
    "kind",
    "account_id",
    "purpose",
    "scope",
    "decision",
    "recipient",
    "source",
    "notice_version",
    "attr_mask",
    "country",
    "birth_date",
    "protected",
    "status",
    "at_us",
    "recorded_us",
)
CHAIN_FIELDS: Final = ("salt", "payload_hash", "prev_hash", "hash")
ROW_FIELDS: Final = ("seq", *PAYLOAD_FIELDS, *CHAIN_FIELDS)
ATTR_BIT: Final[Mapping[str, int]] = {name: 1 << i for i, name in enumerate(ACCOUNT_ATTRIBUTES)}

Scalar = str | int | None
Payload = tuple[Scalar, ...]
Row = tuple[object, ...]


def to_us(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("times must carry a UTC offset")
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


def encode_payload(payload: Sequence[Scalar]) -> bytes:
    parts = ["-" if v is None else f"{len(s)}:{s}" for v in payload for s in (str(v),)]
    return "|".join(parts).encode("utf-8")


def payload_digest(salt: bytes, payload: Sequence[Scalar]) -> bytes:
    return hashlib.sha256(salt + encode_payload(payload)).digest()


def chain_hash(prev_hash: bytes, seq: int, digest: bytes) -> bytes:
    return hashlib.sha256(prev_hash + seq.to_bytes(8, "big") + digest).digest()


def decision_payload(d: ConsentDecision, recorded_us: int) -> Payload:
    return (
        EntryKind.CONSENT.value,
        d.account_id,
        d.purpose,
        d.scope.value if d.scope else None,
        d.decision.value,
        d.recipient,
        d.source.value,
        d.notice_version,
        None,
        None,
        None,
        None,
        None,
        to_us(d.at),
        recorded_us,
    )


def account_payload(c: AccountChange, recorded_us: int) -> Payload:
    mask = 0
    for name in c.attrs:
        mask |= ATTR_BIT[name]
    birth = c.attrs.get("birth_date")
    protected = c.attrs.get("protected")
    status = c.attrs.get("status")
    country = c.attrs.get("country")
    return (
        (EntryKind.ACCOUNT_CREATED if c.created else EntryKind.ACCOUNT_CHANGED).value,
        c.account_id,
        None,
        None,
        None,
        None,
        None,
        None,
        mask,
        str(country) if country is not None else None,
        birth.isoformat() if isinstance(birth, date) else None,
        int(bool(protected)) if protected is not None else None,
        AccountStatus(str(status)).value if status is not None else None,
        to_us(c.at),
        recorded_us,
    )


def payload_of(item: ConsentDecision | AccountChange, recorded_us: int) -> Payload:
    if isinstance(item, ConsentDecision):
        return decision_payload(item, recorded_us)
    return account_payload(item, recorded_us)


def chain_rows(
    payloads: Sequence[Payload], next_seq: int, prev_hash: bytes
) -> tuple[list[Row], bytes]:
    """Rows (``ROW_FIELDS`` order) for payloads appended after ``prev_hash``, and the new head."""
    rows: list[Row] = []
    urandom, sha256 = os.urandom, hashlib.sha256
    seq = next_seq
    for payload in payloads:
        salt = urandom(SALT_BYTES)
        digest = sha256(salt + encode_payload(payload)).digest()
        h = sha256(prev_hash + seq.to_bytes(8, "big") + digest).digest()
        rows.append((seq, *payload, salt, digest, prev_hash, h))
        prev_hash = h
        seq += 1
    return rows, prev_hash


@dataclass(frozen=True, slots=True)
class Position:
    """A moment of the ledger: the sequence number of its last entry and that entry's hash."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Position:
        seq, sep, digest = text.partition(":")
        if not sep or not seq.isdigit() or len(digest) != 64:
            raise ValueError(f"not a ledger position SEQ:HASH: {text!r}")
        try:
            bytes.fromhex(digest)
        except ValueError:
            raise ValueError(
                f"not a ledger position SEQ:HASH (hash is not hex): {text!r}"
            ) from None
        return cls(int(seq), digest.lower())


EMPTY_POSITION: Final = Position(0, GENESIS_HASH.hex())


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One stored entry, decoded for people and reports."""

    seq: int
    kind: EntryKind
    account_id: str
    at: datetime
    recorded_at: datetime
    hash: str
    prev_hash: str
    purpose: str | None = None
    scope: str | None = None
    decision: str | None = None
    recipient: str | None = None
    source: str | None = None
    notice_version: str | None = None
    attrs: Mapping[str, object] | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> LedgerEntry:
        kind = EntryKind(str(row["kind"]))
        attrs: dict[str, object] | None = None
        if kind is not EntryKind.CONSENT:
            mask = int(row["attr_mask"] or 0)  # type: ignore[call-overload]
            attrs = {}
            for name, bit in ATTR_BIT.items():
                if mask & bit:
                    value = row[name]
                    if name == "protected" and value is not None:
                        value = bool(value)
                    if name == "birth_date" and value is not None:
                        value = date.fromisoformat(str(value))
                    attrs[name] = value
        return cls(
            seq=int(row["seq"]),  # type: ignore[call-overload]
            kind=kind,
            account_id=str(row["account_id"]),
            at=from_us(int(row["at_us"])),  # type: ignore[call-overload]
            recorded_at=from_us(int(row["recorded_us"])),  # type: ignore[call-overload]
            hash=bytes(row["hash"]).hex(),  # type: ignore[call-overload]
            prev_hash=bytes(row["prev_hash"]).hex(),  # type: ignore[call-overload]
            purpose=_opt(row["purpose"]),
            scope=_opt(row["scope"]),
            decision=_opt(row["decision"]),
            recipient=_opt(row["recipient"]),
            source=_opt(row["source"]),
            notice_version=_opt(row["notice_version"]),
            attrs=attrs,
        )

    def to_json(self) -> dict[str, object]:
        """The entry for reports (``consentry export``): plain JSON values, absent fields left
        out."""
        out: dict[str, object] = {
            "seq": self.seq,
            "kind": self.kind.value,
            "at": self.at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "hash": self.hash,
        }
        for name in ("purpose", "scope", "decision", "recipient", "source", "notice_version"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.attrs is not None:
            out["attrs"] = {
                k: v.isoformat() if isinstance(v, date) else v for k, v in self.attrs.items()
            }
        return out


def _opt(v: object) -> str | None:
    return None if v is None else str(v)
