"""Deletion attestations: with its acknowledgement, a licensee proves, per snapshot, that the
records it was told to delete are gone.

An attestation names a snapshot, the event it covers through, the checksums of the shards the
licensee rewrote, and the Merkle root over the records its copy still holds
(``consentry.client.proof``). The platform recomputes that root from the delivery map minus
every record of that snapshot it notified up to the event, with the recipient's pseudonyms: the
same root means the copy holds exactly what it should. A root that differs is refused (and the
acknowledgement with it); one that matches is kept, and ``ComplianceFeed.overdue`` counts an
acknowledged event as done only when an attestation of its snapshot covers it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from consentry.client.proof import remaining_root
from consentry.compliance.clock import now
from consentry.compliance.deliveries import DATA, Deliveries, Delivery
from consentry.compliance.recipients import holder_key
from consentry.errors import NotFoundError, UsageError
from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us, to_us
from consentry.scrub.pseudonym import Pseudonymiser

TABLE: Final = "compliance_attestations"


class AttestationRefusedError(UsageError):
    """The attested root is not the one the platform recomputes: records remain (or are
    missing) that should not."""


@dataclass(frozen=True, slots=True)
class Attestation:
    recipient: str
    snapshot_id: str
    through_event: int
    merkle_root: str
    records: int
    shards: list[dict[str, Any]]
    at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "snapshot_id": self.snapshot_id,
            "through_event": self.through_event,
            "merkle_root": self.merkle_root,
            "records": self.records,
            "shards": self.shards,
        }
        if self.at is not None:
            out["at"] = self.at.isoformat()
        return out


def expected_root(
    ledger: LedgerStore, secret: bytes, delivery: Delivery, through: int
) -> tuple[str, int]:
    """The root (and count) of the records ``delivery`` should still hold once every event of
    it up to ``through`` was applied."""
    table = delivery.read_map(["tbl", "content_id", "consent_entry"], where=pc.field("tbl") == DATA)
    record_ids = Pseudonymiser(secret, delivery.recipient).contents(table["content_id"])
    gone = ledger.query_arrow(
        "SELECT record_id FROM compliance_events WHERE delivery_id = ? AND tbl = ?"
        " AND event_id <= ?",
        (delivery.delivery_id, DATA, through),
    )
    keep = pc.invert(pc.is_in(record_ids, value_set=gone.column(0).cast(pa.string())))
    return remaining_root(pc.filter(record_ids, keep), pc.filter(table["consent_entry"], keep))


class Attestations:
    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger

    def check(self, secret: bytes, recipient: str, attestation: Attestation) -> Delivery:
        """Raise unless ``attestation`` is true of a snapshot delivered to ``recipient``."""
        delivery = Deliveries(self.ledger).get(attestation.snapshot_id)
        if delivery is None or delivery.recipient != recipient:
            raise NotFoundError(f"no snapshot {attestation.snapshot_id!r} was delivered to you")
        root, count = expected_root(self.ledger, secret, delivery, attestation.through_event)
        if (root, count) != (attestation.merkle_root, attestation.records):
            raise AttestationRefusedError(
                f"the attestation of snapshot {attestation.snapshot_id} through event "
                f"{attestation.through_event} does not hold: {attestation.records} records with "
                f"root {attestation.merkle_root}, the platform expects {count} records with root "
                f"{root} (apply every event up to it, then attest again)"
            )
        return delivery

    def record(self, delivery: Delivery, attestation: Attestation) -> None:
        """Keep a checked attestation (again: nothing new)."""
        key = (holder_key(delivery.recipient), delivery.delivery_id, attestation.through_event)
        if self.ledger.query(
            f"SELECT 1 FROM {TABLE} WHERE recipient = ? AND delivery_id = ? AND through_event = ?",
            key,
        ):
            return
        self.ledger.execute(
            f"INSERT INTO {TABLE} (recipient, delivery_id, through_event, merkle_root, records,"
            " shards, at_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                *key,
                attestation.merkle_root,
                attestation.records,
                json.dumps(attestation.shards, sort_keys=True),
                to_us(now()),
            ),
        )

    def latest(self, recipient: str | None = None) -> dict[str, Attestation]:
        """Per snapshot id, the attestation covering the most events (of one holder, or all)."""
        sql = (
            f"SELECT a.recipient, d.snapshot_id, a.through_event, a.merkle_root, a.records,"
            f" a.shards, a.at_us FROM {TABLE} a JOIN deliveries d ON d.delivery_id = a.delivery_id"
        )
        params: tuple[Any, ...] = ()
        if recipient is not None:
            sql += " WHERE a.recipient = ?"
            params = (holder_key(recipient),)
        out: dict[str, Attestation] = {}
        for r in self.ledger.query(sql + " ORDER BY a.through_event", params):
            out[str(r[1])] = Attestation(
                recipient=str(r[0]),
                snapshot_id=str(r[1]),
                through_event=int(r[2]),
                merkle_root=str(r[3]),
                records=int(r[4]),
                shards=json.loads(str(r[5])),
                at=from_us(int(r[6])),
            )
        return out
