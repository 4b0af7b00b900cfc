"""Exposure: the records a model was trained on that its holder was since told to delete.

The compliance feed is the truth of what changed: every event on a delivery names one record
that must go, with its reason and time. A model's exposure is the events on the snapshots it
was trained on, one per record (a record in two of its snapshots counts once, under its first
event), grouped by reason: how many records, how many accounts, since when. Nothing is
recomputed here, so exposure and the feed can never tell different stories.

A model is overdue when it is not retired and its first exposure is older than the policy's
``[models] retrain_within_days`` (counted from its training when that came later: a model
trained on a snapshot after an event was emitted saw the record from then on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.compliance.clock import now
from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us, to_us
from consentry.models.lineage import Model, Models

_EVENTS: Final = (
    "SELECT e.event_id, e.tbl, e.record_id, e.account, e.account_id, e.reason, e.at_us,"
    " d.snapshot_id FROM compliance_events e JOIN deliveries d ON d.delivery_id = e.delivery_id"
    " WHERE e.delivery_id IN ({marks})"
)


@dataclass(frozen=True, slots=True)
class ExposureGroup:
    reason: str
    records: int
    accounts: int
    since: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "records": self.records,
            "accounts": self.accounts,
            "since": self.since.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Exposure:
    model: Model
    groups: list[ExposureGroup] = field(default_factory=list)
    #: One row per exposed record: table, record_id, account (pseudonyms, as the holder's
    #: snapshots and feed name them), reason, at, snapshot_id, and the raw ``account_id``.
    rows: pa.Table | None = None
    deadline_days: int = 90

    @property
    def records(self) -> int:
        return sum(g.records for g in self.groups)

    @property
    def accounts(self) -> int:
        if self.rows is None or not self.rows.num_rows:
            return 0
        return len(pc.unique(self.rows.column("account_id")))

    @property
    def since(self) -> datetime | None:
        return min((g.since for g in self.groups), default=None)

    @property
    def deadline(self) -> datetime | None:
        """When the model must be retrained or unlearned (None: nothing to do)."""
        if self.since is None:
            return None
        return max(self.since, self.model.trained_at) + timedelta(days=self.deadline_days)

    def overdue(self, at: datetime | None = None) -> bool:
        deadline = self.deadline
        return deadline is not None and self.model.retired is None and deadline < (at or now())

    def to_json(self, *, with_records: bool = True, at: datetime | None = None) -> dict[str, Any]:
        deadline = self.deadline
        out: dict[str, Any] = {
            "model": self.model.to_json(),
            "records": self.records,
            "accounts": self.accounts,
            "since": self.since.isoformat() if self.since else None,
            "deadline": deadline.isoformat() if deadline else None,
            "overdue": self.overdue(at),
            "by_reason": [g.to_json() for g in self.groups],
        }
        if with_records:
            rows = self.rows.drop_columns(["account_id"]) if self.rows is not None else None
            out["exposed"] = [
                {**r, "at": from_us(int(r["at"])).isoformat()}
                for r in (rows.to_pylist() if rows is not None else [])
            ]
        return out


_EMPTY: Final = pa.schema(
    [
        ("event_id", pa.int64()),
        ("table", pa.string()),
        ("record_id", pa.string()),
        ("account", pa.string()),
        ("account_id", pa.string()),
        ("reason", pa.string()),
        ("at", pa.int64()),
        ("snapshot_id", pa.string()),
    ]
)


def _event_rows(ledger: LedgerStore, delivery_ids: list[int]) -> pa.Table:
    if not delivery_ids:
        return _EMPTY.empty_table()
    marks = ", ".join("?" for _ in delivery_ids)
    found = ledger.query_arrow(_EVENTS.format(marks=marks), delivery_ids)
    table = found.rename_columns(list(_EMPTY.names)).cast(_EMPTY)
    # One row per record: its first event (a record held in two of the model's snapshots).
    table = table.sort_by([("event_id", "ascending")])
    if not table.num_rows:
        return table
    keys = pc.binary_join_element_wise(table["table"], table["record_id"], "\x00")
    first = (
        pa.table({"k": keys, "i": pa.array(range(table.num_rows), pa.int64())})
        .group_by("k", use_threads=False)
        .aggregate([("i", "min")])
        .column("i_min")
    )
    return table.take(pa.array(np.sort(first.to_numpy())))


def _groups(rows: pa.Table) -> list[ExposureGroup]:
    if not rows.num_rows:
        return []
    grouped = rows.group_by("reason").aggregate(
        [("record_id", "count"), ("account_id", "count_distinct"), ("at", "min")]
    )
    return sorted(
        (
            ExposureGroup(
                str(r["reason"]),
                int(r["record_id_count"]),
                int(r["account_id_count_distinct"]),
                from_us(int(r["at_min"])),
            )
            for r in grouped.to_pylist()
        ),
        key=lambda g: (g.since, g.reason),
    )


def exposure_of(ledger: LedgerStore, model: Model, deadline_days: int = 90) -> Exposure:
    """The exposure of ``model``: its snapshots' records named by a compliance event."""
    rows = _event_rows(ledger, model.delivery_ids).drop_columns(["event_id"])
    return Exposure(model, _groups(rows), rows, deadline_days)


@dataclass(frozen=True, slots=True)
class OverdueModel:
    model: Model
    records: int
    since: datetime
    deadline: datetime


def overdue_models(
    ledger: LedgerStore, deadline_days: int, at: datetime | None = None
) -> list[OverdueModel]:
    """Every model, of every holder, not retired and exposed for longer than the deadline."""
    at = at or now()
    models = {m.model_id: m for m in Models(ledger).all() if m.retired is None}
    if not models:
        return []
    # Per model, its exposed records and their first event, in one grouped read: a record in
    # two of its snapshots counts once (the distinct (table, record) pair).
    rows = ledger.query(
        "SELECT s.model_id, COUNT(DISTINCT e.tbl || ':' || e.record_id), MIN(e.at_us)"
        " FROM model_snapshots s JOIN compliance_events e ON e.delivery_id = s.delivery_id"
        " GROUP BY s.model_id"
    )
    out = []
    for model_id, records, first in rows:
        model = models.get(str(model_id))
        if model is None:
            continue
        since = from_us(int(first))
        deadline = max(since, model.trained_at) + timedelta(days=deadline_days)
        if to_us(deadline) < to_us(at):
            out.append(OverdueModel(model, int(records), since, deadline))
    return sorted(out, key=lambda o: (o.deadline, o.model.model_id))
