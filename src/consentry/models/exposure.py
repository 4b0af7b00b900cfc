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

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.compliance.clock import now
from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us, to_us
from consentry.models.lineage import Model, Models

#: By the index on (delivery_id, …); no join, no ORDER BY: each cost more than the rest.
_EVENTS: Final = (
    "SELECT event_id, tbl, record_id, account, account_id, reason, at_us, delivery_id"
    " FROM compliance_events WHERE delivery_id IN ({marks})"
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
        return retrain_deadline(self.since, self.model.trained_at, self.deadline_days)

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


def _read_events(ledger: LedgerStore, delivery_ids: list[int]) -> _PerDelivery:
    """The raw events on ``delivery_ids`` (``_EVENTS``' columns), by delivery."""
    delivery_ids = delivery_ids or [0]  # (no delivery has id 0, and ``IN ()`` is no SQL)
    marks = ", ".join("?" for _ in delivery_ids)
    found = ledger.query_arrow(_EVENTS.format(marks=marks), delivery_ids)
    if not found.num_rows:
        return _PerDelivery(found, np.empty(0, np.int64))
    delivery = found.column(7).to_numpy().astype(np.int64)
    order = np.lexsort((found.column(0).to_numpy(), delivery))
    return _PerDelivery(found.take(pa.array(order)), delivery[order])


@dataclass(frozen=True, slots=True)
class _PerDelivery:
    """Events sorted by delivery (then event): a delivery's events are one slice."""

    table: pa.Table
    delivery: npt.NDArray[np.int64]

    def of(self, delivery_ids: list[int]) -> pa.Table:
        """The events of ``delivery_ids``, in event order."""
        ids = np.array(delivery_ids, np.int64)
        starts = np.searchsorted(self.delivery, ids, "left")
        ends = np.searchsorted(self.delivery, ids, "right")
        pieces = [self.table.slice(a, b - a) for a, b in zip(starts, ends, strict=True) if b > a]
        if not pieces:
            return self.table.slice(0, 0)
        found = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
        if len(pieces) > 1:
            found = found.take(pc.sort_indices(found.column(0)))
        return found


def _event_rows(found: pa.Table, snapshots: dict[int, str]) -> pa.Table:
    """The raw events ``found`` on ``snapshots`` (delivery id: snapshot id; in event order), one
    per record: its first (a record held in two of a model's snapshots counts once). Compute
    kernels only: an Arrow group-by (Acero) costs ~5 ms of setup per call, more than the
    whole of a model's few thousand records, and a GROUP BY in SQLite as much again."""
    if not snapshots or not found.num_rows:
        return _EMPTY.empty_table()
    ids = pa.array(list(snapshots), pa.int64())
    where = pc.index_in(found.column(7).cast(pa.int64()), value_set=ids)
    names = pa.array(list(snapshots.values()), pa.string()).take(where)
    table = (
        found.drop_columns([found.column_names[7]])
        .append_column("snapshot_id", names)
        .rename_columns(list(_EMPTY.names))
        .cast(_EMPTY)
        .combine_chunks()
    )
    keys = pc.binary_join_element_wise(table["table"], table["record_id"], "\x00")
    # ``index_in`` answers each distinct key's first position (rows are in event order).
    first = pc.index_in(pc.unique(keys), value_set=keys)
    if len(first) == table.num_rows:
        return table
    return table.take(pc.take(first, pc.array_sort_indices(first)))


def _groups(rows: pa.Table) -> list[ExposureGroup]:
    if not rows.num_rows:
        return []
    reasons, accounts, times = rows["reason"], rows["account_id"], rows["at"]
    out = []
    for reason in pc.unique(reasons).to_pylist():
        mask = pc.equal(reasons, reason)
        out.append(
            ExposureGroup(
                str(reason),
                int(pc.sum(mask).as_py() or 0),
                int(pc.count_distinct(pc.filter(accounts, mask)).as_py() or 0),
                from_us(int(pc.min(pc.filter(times, mask)).as_py() or 0)),
            )
        )
    return sorted(out, key=lambda g: (g.since, g.reason))


def exposure_of(ledger: LedgerStore, model: Model, deadline_days: int = 90) -> Exposure:
    """The exposure of ``model``: its snapshots' records named by a compliance event."""
    return exposures_of(ledger, [model], deadline_days)[0]


#: Deliveries per read of ``exposures_of`` (bound parameters stay well within both drivers').
_READ_DELIVERIES: Final = 2_000


def exposures_of(
    ledger: LedgerStore, models: list[Model], deadline_days: int = 90
) -> list[Exposure]:
    """The exposure of each of ``models``, their events read together: one query for many
    models rather than one each."""
    out: list[Exposure] = []
    for batch in _batches(models):
        ids = sorted({d.delivery_id for m in batch for d in m.snapshots})
        found = _read_events(ledger, ids)
        for model in batch:
            snapshots = {d.delivery_id: d.snapshot_id for d in model.snapshots}
            rows = _event_rows(found.of(list(snapshots)), snapshots).drop_columns(["event_id"])
            out.append(Exposure(model, _groups(rows), rows, deadline_days))
    return out


def _batches(models: list[Model]) -> Iterator[list[Model]]:
    """``models`` in runs of at most ``_READ_DELIVERIES`` snapshots (a model at least)."""
    batch: list[Model] = []
    size = 0
    for model in models:
        if batch and size + len(model.snapshots) > _READ_DELIVERIES:
            yield batch
            batch, size = [], 0
        batch.append(model)
        size += len(model.snapshots)
    if batch:
        yield batch


def retrain_deadline(since: datetime, trained_at: datetime, days: int) -> datetime:
    """When a model exposed ``since`` must be retrained or unlearned: the policy's days from
    its first exposure, or from its training when it was trained on records already named."""
    return max(since, trained_at) + timedelta(days=days)


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
        deadline = retrain_deadline(since, model.trained_at, deadline_days)
        if to_us(deadline) < to_us(at):
            out.append(OverdueModel(model, int(records), since, deadline))
    return sorted(out, key=lambda o: (o.deadline, o.model.model_id))
