"""The compliance feed of one holder: its events in order, a resumable cursor,
acknowledgements, and the events left unacknowledged past the holder's deadline.

A holder is a recipient, or (``recipient=None``) the platform itself, which holds the internal
snapshots: its training team must delete withdrawn records too. Its feed has its own cursor and
acknowledgements, and the default deadline (``DEFAULT_ACK_DAYS``).

A cursor is the id of the last event a reader has seen, as text; events are numbered in commit
order (the scanner assigns ids under a lock), so "every event after the cursor" never skips one
that commits later. Acknowledging through an event acknowledges every earlier one: recipients
process the feed in order, as X's compliance stream expects of its API customers.

Each event also carries the name X's compliance streams give the same fact (``x_event``) and
the ``reason`` X's batch-compliance files use (``X_EVENTS``), so that licensee code written for
X's compliance firehose and batch jobs works unchanged (``docs/sync.md`` has the table).

A recipient's event acknowledged through the licensee API counts as done only when a deletion
attestation of its snapshot covers it (``compliance.attestations``): an acknowledgement alone
is a promise, the attestation the proof. The operator's ``compliance ack`` records an
acknowledgement received by other means (a letter, a ticket), and the internal snapshots have
no licensee to attest: those acknowledgements are enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from consentry.compliance.clock import now
from consentry.compliance.recipients import (
    DEFAULT_ACK_DAYS,
    Recipients,
    holder_key,
    holder_of,
)
from consentry.errors import UsageError
from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us, to_us

DEFAULT_PAGE: Final = 1000
MAX_PAGE: Final = 100_000
#: Event ids are 64-bit integers in both databases: a larger number names no event, and the
#: drivers would overflow on it instead of answering.
MAX_EVENT_ID: Final = 2**63 - 1
#: Consentry reason → (X compliance-stream event, X batch-compliance reason). X has no consent:
#: a withdrawal, like every exclusion of one post, asks for the post's deletion (``delete``);
#: what concerns the whole account maps to X's user events.
X_EVENTS: Final[dict[str, tuple[str, str]]] = {
    "account_deleted": ("user_delete", "deleted"),
    "erasure": ("user_delete", "deleted"),
    "account_inactive": ("user_suspend", "suspended"),
    "protected_account": ("user_protect", "protected"),
    "content_deleted": ("delete", "deleted"),
    "not_public": ("delete", "deleted"),
    "direct_message": ("delete", "deleted"),
    "minor": ("withheld", "withheld"),
    "age_unknown": ("withheld", "withheld"),
    "consent_denied": ("delete", "deleted"),
    "no_consent": ("delete", "deleted"),
    "no_share_consent": ("delete", "deleted"),
    "duplicate": ("delete", "deleted"),
}
#: Events whose reason concerns the whole account: X's batch files list them as users.
X_USER_EVENTS: Final = frozenset({"user_delete", "user_suspend", "user_protect"})


def x_event(reason: str) -> tuple[str, str]:
    """X's stream event name and batch reason for a Consentry reason (``delete`` otherwise)."""
    return X_EVENTS.get(reason, ("delete", "deleted"))


_SELECT: Final = (
    "SELECT e.event_id, e.recipient, d.snapshot_id, e.tbl, e.record_id, e.account, e.reason,"
    " e.at_us, EXISTS (SELECT 1 FROM compliance_attestations a WHERE a.recipient = e.recipient"
    " AND a.delivery_id = e.delivery_id AND a.through_event >= e.event_id)"
    " FROM compliance_events e JOIN deliveries d ON d.delivery_id = e.delivery_id"
)


@dataclass(frozen=True, slots=True)
class ComplianceEvent:
    event_id: int
    recipient: str | None  # None: an internal snapshot's
    snapshot_id: str
    table: str
    record_id: str
    account: str | None
    reason: str
    at: datetime
    #: Whether a deletion attestation of its snapshot covers it (``compliance.attestations``).
    attested: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "snapshot_id": self.snapshot_id,
            "table": self.table,
            "record_id": self.record_id,
            "reason": self.reason,
            "x_event": x_event(self.reason)[0],
            "at": self.at.isoformat(),
            "attested": self.attested,
        }
        if self.account:
            out["account"] = self.account
        return out


@dataclass(frozen=True, slots=True)
class Overdue:
    recipient: str | None  # None: the internal snapshots
    events: int
    oldest: datetime
    deadline: datetime
    #: Of ``events``, those acknowledged without an attestation of their snapshot covering them.
    unattested: int = 0


def _event(row: tuple[Any, ...]) -> ComplianceEvent:
    return ComplianceEvent(
        event_id=int(row[0]),
        recipient=holder_of(str(row[1])),
        snapshot_id=str(row[2]),
        table=str(row[3]),
        record_id=str(row[4]),
        account=row[5] or None,
        reason=str(row[6]),
        at=from_us(int(row[7])),
        attested=bool(row[8]),
    )


def parse_cursor(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_EVENT_ID:
        raise UsageError(f"cursor {text!r} is not one this feed gave (a number of an event)")
    return int(text)


class ComplianceFeed:
    """The feed of each holder: ``recipient`` names one, None the internal snapshots."""

    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger
        self.recipients = Recipients(ledger)

    def _holder(self, recipient: str | None) -> str:
        if recipient is not None:
            self.recipients.get(recipient)
        return holder_key(recipient)

    def acknowledged(self, recipient: str | None) -> int:
        rows = self.ledger.query(
            "SELECT through_event FROM compliance_acks WHERE recipient = ?",
            (holder_key(recipient),),
        )
        return int(rows[0][0]) if rows else 0

    def page(
        self, recipient: str | None, cursor: str | None = None, limit: int = DEFAULT_PAGE
    ) -> tuple[list[ComplianceEvent], str]:
        """Events after ``cursor`` (default: after the last acknowledged one), at most ``limit``,
        and the cursor to ask with next (the same cursor when there is nothing new)."""
        holder = self._holder(recipient)
        if not 1 <= limit <= MAX_PAGE:
            raise UsageError(f"--limit must be between 1 and {MAX_PAGE}, got {limit}")
        after = parse_cursor(cursor)
        if after is None:
            after = self.acknowledged(recipient)
        rows = self.ledger.query(
            f"{_SELECT} WHERE e.recipient = ? AND e.event_id > ? ORDER BY e.event_id LIMIT ?",
            (holder, after, limit),
        )
        events = [_event(r) for r in rows]
        return events, str(events[-1].event_id if events else after)

    def ack(self, recipient: str | None, through: int, *, attesting: bool = False) -> int:
        """Acknowledge every event of the holder up to ``through``; returns how many were
        newly acknowledged. ``attesting``: the acknowledgement came from the licensee API,
        where it is done only once attested."""
        holder = self._holder(recipient)
        with self.ledger.transaction():
            done = self.acknowledged(recipient)
            last = self.ledger.query(
                "SELECT MAX(event_id) FROM compliance_events WHERE recipient = ?", (holder,)
            )[0][0]
            if last is None or not 1 <= through <= int(last):
                raise UsageError(
                    f"{holder} has no event {through} to acknowledge (its last is "
                    f"{0 if last is None else int(last)})"
                )
            self._attesting(holder, attesting)
            if through <= done:
                return 0
            count = int(
                self.ledger.query(
                    "SELECT COUNT(*) FROM compliance_events WHERE recipient = ?"
                    " AND event_id > ? AND event_id <= ?",
                    (holder, done, through),
                )[0][0]
            )
            if self.ledger.query("SELECT 1 FROM compliance_acks WHERE recipient = ?", (holder,)):
                self.ledger.execute(
                    "UPDATE compliance_acks SET through_event = ?, at_us = ? WHERE recipient = ?",
                    (through, to_us(now()), holder),
                )
            else:
                self.ledger.execute(
                    "INSERT INTO compliance_acks (recipient, through_event, at_us,"
                    " needs_attestation) VALUES (?, ?, ?, ?)",
                    (holder, through, to_us(now()), int(attesting)),
                )
        return count

    def _attesting(self, holder: str, attesting: bool) -> None:
        self.ledger.execute(
            "UPDATE compliance_acks SET needs_attestation = ? WHERE recipient = ?",
            (int(attesting), holder),
        )

    def _needs_attestation(self, recipient: str | None) -> bool:
        rows = self.ledger.query(
            "SELECT needs_attestation FROM compliance_acks WHERE recipient = ?",
            (holder_key(recipient),),
        )
        return bool(rows and rows[0][0])

    def pending(self, recipient: str | None) -> int:
        return int(
            self.ledger.query(
                "SELECT COUNT(*) FROM compliance_events WHERE recipient = ? AND event_id > ?",
                (holder_key(recipient), self.acknowledged(recipient)),
            )[0][0]
        )

    def overdue(self, at: datetime | None = None) -> list[Overdue]:
        """Per holder (the internal snapshots first), the events still unacknowledged past its
        deadline (``ack_days``; the default for the internal snapshots)."""
        at = at or now()
        holders: list[tuple[str | None, int]] = [(None, DEFAULT_ACK_DAYS)]
        holders += [(r.name, r.ack_days) for r in self.recipients.list()]
        out = []
        for recipient, days in holders:
            limit = to_us(_days_before(at, days))
            acked = self.acknowledged(recipient)
            if not self._needs_attestation(recipient):
                rows = self.ledger.query(
                    "SELECT COUNT(*), MIN(at_us), 0 FROM compliance_events"
                    " WHERE recipient = ? AND event_id > ? AND at_us < ?",
                    (holder_key(recipient), acked, limit),
                )
            else:
                rows = self.ledger.query(_UNDONE, (acked, holder_key(recipient), limit, acked))
            count, oldest, unattested = int(rows[0][0]), rows[0][1], int(rows[0][2] or 0)
            if count:
                first = from_us(int(oldest))
                out.append(
                    Overdue(recipient, count, first, first + timedelta(days=days), unattested)
                )
        return out


#: A recipient's events past the deadline not done: not acknowledged, or acknowledged without an
#: attestation of their snapshot through them (the third column counts those).
_UNDONE: Final = (
    "SELECT COUNT(*), MIN(e.at_us), SUM(CASE WHEN e.event_id <= ? THEN 1 ELSE 0 END)"
    " FROM compliance_events e WHERE e.recipient = ? AND e.at_us < ? AND (e.event_id > ?"
    " OR NOT EXISTS (SELECT 1 FROM compliance_attestations a WHERE a.recipient = e.recipient"
    " AND a.delivery_id = e.delivery_id AND a.through_event >= e.event_id))"
)


def _days_before(at: datetime, days: int) -> datetime:
    # A deadline stored before ``MAX_ACK_DAYS`` existed may reach before year 1: nothing is
    # overdue then.
    try:
        return at - timedelta(days=days)
    except OverflowError:
        return datetime.min.replace(tzinfo=at.tzinfo)
