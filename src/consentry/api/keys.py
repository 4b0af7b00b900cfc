"""API keys for licensees and operators: shown once at creation, stored only as a digest.

A key reads ``csk_<key id>_<secret>``. The id is public (it names the key in lists, logs and
revocations); the secret is 32 random bytes, stored as its SHA-256 (a slow hash would add
nothing: the secret is not guessable) and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from consentry.compliance.recipients import Recipients
from consentry.errors import UsageError
from consentry.ledger import LedgerStore
from consentry.times import now_us

PREFIX: Final = "csk"
_COLUMNS: Final = "key_id, role, recipient, label, created_us, revoked_us, replaces"


class Role(StrEnum):
    ADMIN = "admin"
    LICENSEE = "licensee"
    #: The platform's assistant: live eligibility and assistant turns, nothing else.
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    role: Role
    recipient: str | None
    label: str | None
    created_us: int
    revoked_us: int | None
    replaces: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_us is not None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.key_id,
            "role": self.role.value,
            "recipient": self.recipient,
            "label": self.label,
            "created_us": self.created_us,
            "revoked": self.revoked,
            "replaces": self.replaces,
        }


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: ``secret`` is the whole key, to be shown once and never again."""

    key: ApiKey
    secret: str


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """What authentication needs about a key, in one read: the key and its plan's rate."""

    key: ApiKey
    rate_per_minute: int | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def split(token: str) -> tuple[str, str] | None:
    """``(key id, secret)`` of a token shaped like a key, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def _key(row: tuple[object, ...]) -> ApiKey:
    key_id, role, recipient, label, created, revoked, replaces = row
    return ApiKey(
        str(key_id),
        Role(str(role)),
        None if recipient is None else str(recipient),
        None if label is None else str(label),
        int(created),  # type: ignore[call-overload]
        None if revoked is None else int(revoked),  # type: ignore[call-overload]
        None if replaces is None else str(replaces),
    )


class ApiKeys:
    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger

    def create(
        self,
        role: Role,
        *,
        recipient: str | None = None,
        label: str | None = None,
        replaces: str | None = None,
    ) -> NewKey:
        if role is Role.LICENSEE and not recipient:
            raise UsageError("a licensee key belongs to a recipient: give --recipient")
        if role is not Role.LICENSEE and recipient:
            raise UsageError(f"an {role.value} key belongs to no recipient")
        if recipient is not None:
            Recipients(self.ledger).get(recipient)  # a key for a typo would see nothing
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        self.ledger.execute(
            "INSERT INTO api_keys (key_id, secret_sha256, role, recipient, label, created_us,"
            " replaces) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key_id, _digest(secret), role.value, recipient, label, now_us(), replaces),
        )
        return NewKey(self.get(key_id), f"{PREFIX}_{key_id}_{secret}")

    def get(self, key_id: str) -> ApiKey:
        rows = self.ledger.query(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        if not rows:
            raise UsageError(f"no API key {key_id!r}")
        return _key(rows[0])

    def list(self, *, recipient: str | None = None) -> list[ApiKey]:
        sql = f"SELECT {_COLUMNS} FROM api_keys"
        params: tuple[object, ...] = ()
        if recipient is not None:
            sql += " WHERE recipient = ?"
            params = (recipient,)
        return [_key(r) for r in self.ledger.query(sql + " ORDER BY created_us, key_id", params)]

    def revoke(self, key_id: str) -> ApiKey:
        self.get(key_id)
        self.ledger.execute(
            "UPDATE api_keys SET revoked_us = ? WHERE key_id = ? AND revoked_us IS NULL",
            (now_us(), key_id),
        )
        return self.get(key_id)

    def rotate(self, key_id: str) -> NewKey:
        """A new key for the same role and recipient; the old one is revoked at once."""
        old = self.get(key_id)
        if old.revoked:
            raise UsageError(f"API key {key_id} is revoked: create a new one instead")
        with self.ledger.transaction():
            new = self.create(
                old.role, recipient=old.recipient, label=old.label, replaces=old.key_id
            )
            self.revoke(key_id)
        return new

    def check(self, token: str) -> KeyCheck | None:
        """The live key ``token`` is, with its recipient's plan rate; None if it is none."""
        parts = split(token)
        if parts is None:
            return None
        key_id, secret = parts
        rows = self.ledger.query(
            "SELECT k.key_id, k.role, k.recipient, k.label, k.created_us, k.revoked_us,"
            " k.replaces, k.secret_sha256, p.requests_per_minute FROM api_keys k"
            " LEFT JOIN recipient_plans rp ON rp.recipient = k.recipient"
            " LEFT JOIN plans p ON p.name = rp.plan WHERE k.key_id = ?",
            (key_id,),
        )
        # Digest compared even for an unknown id, so that timing tells nothing about ids.
        stored = str(rows[0][7]) if rows else "0" * 64
        matches = hmac.compare_digest(stored.encode(), _digest(secret).encode())
        if not rows or not matches:
            return None
        key = _key(rows[0][:7])
        if key.revoked:
            return None
        rate = rows[0][8]
        return KeyCheck(key, None if rate is None else int(rate))
