"""Recipients: the third parties (AI companies) that snapshots are delivered to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from consentry.compliance.clock import now
from consentry.errors import NotFoundError, UsageError
from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us, to_us

#: X requires its API customers to act on compliance events within 30 days.
DEFAULT_ACK_DAYS: Final = 30
#: A deadline beyond ten years is no deadline (and ``now - days`` must stay a date).
MAX_ACK_DAYS: Final = 3650
#: The holder of internal snapshots (built without a recipient: the platform's own training
#: team) in the compliance tables, which key events and acknowledgements by holder. It cannot
#: be a recipient's name (``_NAME``), so no licensee ever reads or acknowledges its events.
INTERNAL: Final = "(internal)"
#: Names appear in pseudonym key derivation, file names and URLs: keep them plain.
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    contact: str | None
    ack_days: int
    created: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "contact": self.contact,
            "ack_days": self.ack_days,
            "created": self.created.isoformat(),
        }


class Recipients:
    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger

    def add(
        self, name: str, contact: str | None = None, ack_days: int = DEFAULT_ACK_DAYS
    ) -> Recipient:
        if not _NAME.match(name):
            raise UsageError(
                f"recipient name {name!r}: use lower-case letters, digits, '.', '_' or '-' "
                "(at most 63), starting with a letter or digit"
            )
        if contact is not None and not _EMAIL.match(contact):
            raise UsageError(f"--contact {contact!r} is not an email address")
        if not 1 <= ack_days <= MAX_ACK_DAYS:
            raise UsageError(f"--ack-days must be between 1 and {MAX_ACK_DAYS}, got {ack_days}")
        if self.find(name) is not None:
            raise UsageError(f"recipient {name!r} already exists (see `consentry recipient show`)")
        created = now()
        self.ledger.execute(
            "INSERT INTO recipients (name, contact, ack_days, created_us) VALUES (?, ?, ?, ?)",
            (name, contact, ack_days, to_us(created)),
        )
        return Recipient(name, contact, ack_days, created)

    def find(self, name: str) -> Recipient | None:
        rows = self.ledger.query(
            "SELECT name, contact, ack_days, created_us FROM recipients WHERE name = ?", (name,)
        )
        return _recipient(rows[0]) if rows else None

    def get(self, name: str) -> Recipient:
        found = self.find(name)
        if found is None:
            raise NotFoundError(
                f"unknown recipient {name!r}: register it first with "
                f"`consentry recipient add {name}`"
            )
        return found

    def list(self) -> list[Recipient]:
        rows = self.ledger.query(
            "SELECT name, contact, ack_days, created_us FROM recipients ORDER BY name"
        )
        return [_recipient(r) for r in rows]


def holder_key(recipient: str | None) -> str:
    """How the compliance tables (and messages) name the holder of a recipient's snapshots, or,
    for None, of the internal ones."""
    return INTERNAL if recipient is None else recipient


def holder_of(key: str) -> str | None:
    """The recipient a compliance table's holder key stands for (None: internal snapshots)."""
    return None if key == INTERNAL else key


def _recipient(row: tuple[Any, ...]) -> Recipient:
    return Recipient(str(row[0]), row[1], int(row[2]), from_us(int(row[3])))
