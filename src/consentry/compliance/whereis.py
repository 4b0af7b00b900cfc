"""Where is my data (GDPR art. 15): every snapshot holding an account's records, and a report.

``where_is`` probes the (delivery, account) key of ``delivered_accounts`` once per delivery and
reads the account's events by index: milliseconds for hundreds of snapshots of millions of
accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consentry.compliance.attestations import Attestations
from consentry.compliance.clock import now
from consentry.compliance.deliveries import Deliveries
from consentry.compliance.recipients import Recipients, holder_of
from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us
from consentry.model import AccountStatus
from consentry.models.lineage import Models
from consentry.policy.choices import current_decisions

# Deliveries first, then the (delivery, account) key of each: one index probe per snapshot.
_HELD = (
    "SELECT d.delivery_id, d.snapshot_id, d.purpose, d.recipient, d.created_us, a.records,"
    " d.ledger_seq, d.published_us FROM deliveries d CROSS JOIN delivered_accounts a"
    " WHERE a.delivery_id = d.delivery_id AND a.account_id = ? ORDER BY d.delivery_id"
)
_EVENTS = (
    "SELECT e.delivery_id, COUNT(*),"
    " SUM(CASE WHEN e.event_id > COALESCE(k.through_event, 0) THEN 1 ELSE 0 END)"
    " FROM compliance_events e LEFT JOIN compliance_acks k ON k.recipient = e.recipient"
    " WHERE e.account_id = ? GROUP BY e.delivery_id"
)


@dataclass(frozen=True, slots=True)
class Holding:
    snapshot_id: str
    purpose: str
    recipient: str | None
    delivered: datetime
    ledger_seq: int
    records: int
    #: Records this holder was told to delete, and of those not yet acknowledged.
    deletion_events: int
    pending_events: int
    #: The holder's latest deletion attestation of this snapshot, if any.
    attestation: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "purpose": self.purpose,
            "recipient": self.recipient,
            "delivered": self.delivered.isoformat(),
            "ledger_seq": self.ledger_seq,
            "records": self.records,
            "deletion_events": self.deletion_events,
            "pending_events": self.pending_events,
            "attestation": self.attestation,
        }


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A model trained on snapshots holding the account's records (docs/models.md)."""

    model_id: str
    name: str
    version: str
    recipient: str | None  # None: the platform's own
    trained_at: datetime
    snapshots: list[str]
    retired: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "name": self.name,
            "version": self.version,
            "recipient": self.recipient,
            "trained_at": self.trained_at.isoformat(),
            "snapshots": self.snapshots,
            "retired": self.retired.isoformat() if self.retired else None,
        }


@dataclass(frozen=True, slots=True)
class WhereIs:
    account_id: str
    snapshots: list[Holding] = field(default_factory=list)
    models: list[TrainedModel] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "snapshots": [s.to_json() for s in self.snapshots],
            "models": [m.to_json() for m in self.models],
            "records": sum(s.records for s in self.snapshots),
            "pending_events": sum(s.pending_events for s in self.snapshots),
        }


def where_is(ledger: LedgerStore, account_id: str) -> WhereIs:
    held = ledger.query(_HELD, (account_id,))
    if any(r[7] is None for r in held):  # not marked published: held only once it is
        unmarked = Deliveries(ledger).unmarked()
        held = [r for r in held if r[7] is not None or int(r[0]) in unmarked]
    events = {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in ledger.query(_EVENTS, (account_id,))}
    attested = Attestations(ledger).latest()
    return WhereIs(
        account_id,
        [
            Holding(
                snapshot_id=str(r[1]),
                purpose=str(r[2]),
                recipient=r[3],
                delivered=from_us(int(r[4])),
                ledger_seq=int(r[6]),
                records=int(r[5]),
                deletion_events=events.get(int(r[0]), (0, 0))[0],
                pending_events=events.get(int(r[0]), (0, 0))[1],
                attestation=a.to_json() if (a := attested.get(str(r[1]))) else None,
            )
            for r in held
        ],
        _models(ledger, {int(r[0]) for r in held}),
    )


def _models(ledger: LedgerStore, held: set[int]) -> list[TrainedModel]:
    """The models trained on the deliveries ``held`` (by id), with those of their snapshots."""
    return [
        TrainedModel(
            m.model_id,
            m.name,
            m.version,
            m.recipient,
            m.trained_at,
            [d.snapshot_id for d in m.snapshots if d.delivery_id in held],
            m.retired,
        )
        for m in Models(ledger).trained_on(sorted(held))
    ]


def export_report(ledger: LedgerStore, account_id: str) -> dict[str, Any]:
    """Everything Consentry knows of an account's consent and data flows, machine-readable."""
    state = ledger.account_states(account_id=account_id).to_pylist()
    history = [e.to_json() for e in ledger.account_history(account_id)]
    held = where_is(ledger, account_id)
    names = sorted({h.recipient for h in held.snapshots if h.recipient})
    recipients = Recipients(ledger)
    events = ledger.query(
        "SELECT e.event_id, e.recipient, d.snapshot_id, e.tbl, e.record_id, e.reason, e.at_us,"
        " e.event_id <= COALESCE(k.through_event, 0)"
        " FROM compliance_events e JOIN deliveries d ON d.delivery_id = e.delivery_id"
        " LEFT JOIN compliance_acks k ON k.recipient = e.recipient"
        " WHERE e.account_id = ? ORDER BY e.event_id",
        (account_id,),
    )
    account = state[0] if state else None
    return {
        "report": "consentry data-subject access report (GDPR art. 15)",
        "generated": now().isoformat(),
        "account_id": account_id,
        "known": account is not None,
        "erased": bool(account and account.get("status") == AccountStatus.ERASED.value),
        "account": _jsonable(account),
        "consent": {
            "current": current_decisions(ledger, account_id),
            "history": history,
        },
        "snapshots": held.to_json()["snapshots"],
        "models": held.to_json()["models"],
        "recipients": [r.to_json() for name in names if (r := recipients.find(name)) is not None],
        "events": [
            {
                "event_id": int(e[0]),
                "recipient": holder_of(str(e[1])),
                "snapshot_id": e[2],
                "table": e[3],
                "record_id": e[4],
                "reason": e[5],
                "at": from_us(int(e[6])).isoformat(),
                "acknowledged": bool(e[7]),
            }
            for e in events
        ],
    }


def _jsonable(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out: dict[str, Any] = {}
    for k, v in row.items():
        out[k] = v.isoformat() if hasattr(v, "isoformat") else v
    return out
