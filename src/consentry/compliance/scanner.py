"""Turn what changed since the last scan into compliance events, one per affected record.

What changed: ledger entries appended since the scan's cursor (decisions, account changes,
erasures) and content imports committed since (deleted items). Which records they affect: the
delivered records (delivery maps) of the accounts and items concerned. Whether a record is
affected is decided by the policy's own verdict rules, never by a second set of rules:

1. its verdict as of the ledger head, for its delivery's purpose and recipient, with its item
   marked deleted when it was deleted — a record that would no longer be included gets an event
   with that reason code (``erasure`` when the account was erased);
2. a change that was reversed before the scan ran (deny then grant again, deactivated then
   active again) still reached the record: for every deny and account change in the window, the
   verdict is also taken as of that entry;
3. a repost's record follows its original's (as in the build): when the original's record is
   affected, so is the repost's.

Each (delivery, record) gets at most one event, ever: a re-grant does not resurrect a record a
recipient was told to delete, and a second withdrawal does not repeat the notice. The scan reads
and computes outside any transaction, then commits its events and its new cursor together, only
if no other scan moved the cursor meanwhile (otherwise it starts again).
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from consentry.compliance import db
from consentry.compliance.clock import now
from consentry.compliance.deliveries import DATA, INTERACTIONS, Deliveries, Delivery
from consentry.compliance.recipients import holder_key
from consentry.content.schema import ITEMS
from consentry.content.store import ContentStore, bucket_dir, segment_name
from consentry.ledger import AsOf, LedgerStore, Resolved
from consentry.ledger.entries import ATTR_BIT, to_us
from consentry.masks import bool_mask
from consentry.model import SHARE, AccountStatus, Reason, Scope
from consentry.policy import Policy, verdicts
from consentry.policy.frame import StateIndex
from consentry.scrub.pseudonym import Pseudonymiser

CURSOR: Final = "events"
_CODES: Final = np.array([Reason(r).code for r in range(len(Reason))], dtype=object)
#: Up to this many accounts concerned, deliveries are chosen through the per-account index
#: (a person's withdrawal reads only the maps of the snapshots holding their records).
PRESELECT_MAX: Final = 20_000
#: The reason given when the account itself was erased (GDPR art. 17).
ERASURE: Final = "erasure"
_MAP_COLUMNS: Final = ["tbl", "account_id", "content_id", "kind", "origin_id"]
EVENT_SCHEMA: Final = pa.schema(
    [
        ("event_id", pa.int64()),
        ("recipient", pa.string()),
        ("delivery_id", pa.int64()),
        ("account_id", pa.string()),
        ("tbl", pa.string()),
        ("record_id", pa.string()),
        ("account", pa.string()),
        ("reason", pa.string()),
        ("cause_seq", pa.int64()),
        ("at_us", pa.int64()),
    ]
)


@dataclass
class ScanResult:
    ledger_from: int
    ledger_to: int
    imports_from: int
    imports_to: int
    events: Counter[str] = field(default_factory=Counter)
    per_recipient: Counter[str] = field(default_factory=Counter)  # by ``holder_key``

    @property
    def total(self) -> int:
        return sum(self.events.values())


@dataclass(frozen=True, slots=True)
class _Window:
    ledger_from: int
    head: Resolved
    imports_from: int
    imports_to: int
    touched: pa.Array  # account ids with entries in the window
    last: pa.Table  # the latest entry of each touched account: account_id, seq_max
    denies: (
        pa.Table
    )  # denies and account changes in the window: account_id, purpose, recipient, seq
    deleted: pa.Array  # content ids deleted by imports in the window
    deleted_authors: pa.Array  # their authors


class Scanner:
    #: Up to this many accounts concerned, their state is read account by account.
    few_accounts: int = 200

    def __init__(
        self,
        ledger: LedgerStore,
        store: ContentStore,
        policy: Policy,
        secret: bytes,
        *,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.ledger = ledger
        self.store = store
        self.policy = policy
        self._secret = secret
        self.workers = workers
        self.deliveries = Deliveries(ledger)

    def cursor(self) -> tuple[int, int]:
        rows = self.ledger.query(
            "SELECT ledger_seq, import_seq FROM compliance_scan WHERE name = ?", (CURSOR,)
        )
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def run(self, *, attempts: int = 5) -> ScanResult:
        for _ in range(attempts):
            start = self.cursor()
            window = self._window(*start)
            events, result = self._events(window)
            late = self._late()
            if late:
                # Changes since their ledger position that a scan read before they were
                # recorded (a withdrawal during the build, an ``--as-of`` build), and every
                # deletion (which imports the build saw is not recorded).
                behind = self._window(min(d.ledger_seq for d in late), 0)
                extra = self._events(behind, only={d.delivery_id for d in late})[0]
                events = _distinct(pa.concat_tables([events, extra]))
            result.events.update(events.column("reason").to_pylist())
            result.per_recipient.update(events.column("recipient").to_pylist())
            if self._commit(start, window, events, [d.delivery_id for d in late]):
                return result
        raise RuntimeError("compliance scan: the cursor kept moving under this scan")

    def _late(self) -> list[Delivery]:
        """Deliveries recorded since the last scan: they are caught up from their own ledger
        position, not the cursor's."""
        found = self.deliveries.by_ids(sorted(self._late_ids()))
        return [found[i] for i in sorted(found)]

    def _late_ids(self) -> set[int]:
        rows = self.ledger.query("SELECT delivery_id FROM deliveries WHERE caught_up = 0")
        return {int(r[0]) for r in rows}

    # ---- what changed ------------------------------------------------------------------------

    def _window(self, ledger_from: int, imports_from: int) -> _Window:
        head = self.ledger.resolve(AsOf())
        upto = head.position.seq
        entries = self.ledger.query_arrow(
            "SELECT account_id, seq FROM ledger_entries WHERE seq > ? AND seq <= ?",
            (ledger_from, upto),
        )
        last = (
            entries.group_by("account_id").aggregate([("seq", "max")])
            if entries.num_rows
            else pa.table(
                {"account_id": pa.array([], pa.string()), "seq_max": pa.array([], pa.int64())}
            )
        )
        # Entries that may have excluded records for a while: withdrawals, and account changes
        # that can exclude (a country or birth date set, protection, a status other than active;
        # a purpose of '' stands for "every purpose"). Changes that cannot (unprotected, active
        # again) are left out: each entry kept here may cost a state read of its account.
        can_exclude = (ATTR_BIT["country"] | ATTR_BIT["birth_date"], AccountStatus.ACTIVE.value)
        denies = self.ledger.query_arrow(
            "SELECT account_id, coalesce(purpose, '') AS purpose,"
            " coalesce(recipient, '') AS recipient, seq FROM ledger_entries"
            " WHERE (decision = 'deny' OR (kind = 'account_changed' AND ((attr_mask & ?) <> 0"
            " OR protected = 1 OR (status IS NOT NULL AND status <> ?))))"
            " AND seq > ? AND seq <= ?",
            (*can_exclude, ledger_from, upto),
        )
        imports = [i.seq for i in self.store.imports()]
        imports_to = max(imports, default=imports_from)
        new_imports = [s for s in imports if s > imports_from]
        deleted = self._deleted_items(new_imports)
        return _Window(
            ledger_from=ledger_from,
            head=head,
            imports_from=imports_from,
            imports_to=max(imports_to, imports_from),
            touched=_array(last.column("account_id")),
            last=last.combine_chunks(),
            denies=denies,
            deleted=deleted.column("content_id").combine_chunks(),
            deleted_authors=pc.unique(deleted.column("author_id").combine_chunks()),
        )

    def _deleted_items(self, imports: list[int]) -> pa.Table:
        """Items that imports in the window marked deleted: ``content_id``, ``author_id``."""
        found: list[pa.Table] = []
        for seq in imports:
            for bucket in range(self.store.buckets(ITEMS)):
                path = bucket_dir(self.store.root, ITEMS.name, bucket) / segment_name(seq)
                if not path.exists():
                    continue
                table = pq.read_table(path, columns=["content_id", "author_id", "deleted_at"])
                found.append(table.filter(pc.is_valid(table["deleted_at"])))
        if not found:
            return pa.table(
                {"content_id": pa.array([], pa.string()), "author_id": pa.array([], pa.string())}
            )
        return pa.concat_tables(found).select(["content_id", "author_id"]).combine_chunks()

    def _holding(self, window: _Window) -> set[int] | None:
        """Deliveries holding records of the accounts concerned, from the per-account index;
        None when so many accounts are concerned that reading every map is cheaper."""
        concerned = _concerned(window)
        if len(concerned) > PRESELECT_MAX:
            return None
        held: set[int] = set()
        ids = concerned.to_pylist()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.ledger.query(
                "SELECT d.delivery_id FROM deliveries d WHERE EXISTS (SELECT 1 FROM"
                " delivered_accounts a WHERE a.delivery_id = d.delivery_id"
                f" AND a.account_id IN ({marks}))",
                chunk,
            )
            held.update(int(r[0]) for r in rows)
        return held

    # ---- which records -----------------------------------------------------------------------

    def _events(self, window: _Window, only: set[int] | None = None) -> tuple[pa.Table, ScanResult]:
        """The new events of ``window`` (of the deliveries ``only`` names, if given), and the
        window's bounds (counted by ``run``)."""
        result = ScanResult(
            window.ledger_from, window.head.position.seq, window.imports_from, window.imports_to
        )
        parts: list[pa.Table] = []
        if len(window.touched) == 0 and len(window.deleted) == 0:
            return EVENT_SCHEMA.empty_table(), result
        at_us = to_us(now())
        indexes: dict[tuple[str, str | None], StateIndex] = {}
        accounts: pa.Table | None = None  # account states at the head, read once
        holding = self._holding(window)
        if only is not None:
            holding = only if holding is None else holding & only
        # A few accounts concerned (one person's withdrawal): read their state alone, rather
        # than every account's.
        concerned = _concerned(window)
        few = concerned.to_pylist() if len(concerned) <= self.few_accounts else None
        # Internal snapshots too: the platform's own training team holds their records.
        chosen = [
            d
            for d in self.deliveries.all(pending=True)
            if holding is None or d.delivery_id in holding
        ]
        for delivery in chosen:
            key = (delivery.purpose, delivery.recipient)
            if key not in indexes:
                if accounts is None:
                    accounts = self._account_states(window.head, few)
                indexes[key] = self._index(
                    window.head, delivery.purpose, delivery.recipient, accounts, few
                )
        jobs = [_MapJob(d, indexes[(d.purpose, d.recipient)]) for d in chosen]
        on = self.ledger.position_time(window.head).date() if jobs else date.min
        for job, read in zip(jobs, self._read_maps(jobs, window, on), strict=True):
            affected = self._affected(job.delivery, window, read)
            if affected.num_rows == 0:
                continue
            delivery = job.delivery
            events = self._new_events(delivery, affected, at_us)
            if events.num_rows:
                parts.append(events)
        if not parts:
            return EVENT_SCHEMA.empty_table(), result
        return pa.concat_tables(parts), result

    def _account_states(self, at: Resolved, few: list[str] | None) -> pa.Table:
        if few is None:
            return self.ledger.account_states(at)
        parts = [self.ledger.account_states(at, account_id=a) for a in few]
        return pa.concat_tables(parts) if parts else self.ledger.account_states(at, account_id="")

    def _index(
        self,
        at: Resolved,
        purpose: str,
        recipient: str | None,
        accounts: pa.Table,
        few: list[str] | None,
    ) -> StateIndex:
        purposes = [purpose] + ([SHARE] if recipient and purpose != SHARE else [])
        if few is None:
            consent = self.ledger.consent_state(at, purposes=purposes, recipient=recipient)
        else:
            parts = [
                self.ledger.consent_state(at, purposes=purposes, recipient=recipient, account_id=a)
                for a in few
            ]
            consent = (
                pa.concat_tables(parts)
                if parts
                else self.ledger.consent_state(
                    at, purposes=purposes, recipient=recipient, account_id=""
                )
            )
        return StateIndex(
            accounts,
            consent,
            purpose,
            recipient=recipient is not None,
        )

    def _read_maps(self, jobs: list[_MapJob], window: _Window, on: date) -> Iterator[_MapRead]:
        """Each delivery's map read, with its rows' verdicts at the head, in delivery order.
        Deliveries are independent and this part needs no ledger (the state indexes are
        built before), so with ``workers`` > 1 it runs in forked worker processes, which
        inherit the indexes and the window; what they return is what one process computes."""
        if (
            self.workers == 1
            or len(jobs) < 2
            or "fork" not in multiprocessing.get_all_start_methods()
        ):
            for job in jobs:
                yield _read_map(self.policy, job, window, on)
            return
        global _FORKED
        _FORKED = (self.policy, jobs, window, on)
        try:
            with ProcessPoolExecutor(
                max_workers=min(self.workers, len(jobs)),
                mp_context=multiprocessing.get_context("fork"),
            ) as pool:
                yield from pool.map(_read_forked_map, range(len(jobs)))
        finally:
            _FORKED = None

    def _affected(self, delivery: Delivery, window: _Window, read: _MapRead) -> pa.Table:
        """Rows of the delivery map whose record is affected, with ``reason`` and ``cause_seq``."""
        candidates, reposts = read.candidates, read.reposts
        reasons = self._reversed_withdrawals(candidates, read.reasons, window, delivery)
        reason_codes = _CODES[reasons.astype(np.int64)]
        reason_codes[read.erased & (reasons != Reason.ELIGIBLE)] = ERASURE
        hit = reasons != Reason.ELIGIBLE
        out = candidates.filter(pa.array(hit)).append_column(
            "reason", pa.array(reason_codes[hit], pa.string())
        )
        # Reposts follow their originals, and reposts of reposts theirs, as the census does.
        for _ in range(reposts.num_rows + 1):  # one link of a chain of reposts per round
            revoked = out.filter(pc.equal(out["tbl"], DATA))
            follows = pc.fill_null(
                pc.is_in(reposts["origin_id"], value_set=revoked["content_id"]), False
            )
            fresh = reposts.filter(follows)
            fresh = fresh.filter(
                pc.invert(pc.is_in(fresh["content_id"], value_set=revoked["content_id"]))
            )
            if fresh.num_rows == 0:
                break
            origin = pc.index_in(fresh["origin_id"], value_set=revoked["content_id"])
            out = pa.concat_tables(
                [out, fresh.append_column("reason", revoked["reason"].take(origin))]
            )
        where = pc.index_in(out["account_id"], value_set=window.last["account_id"])
        causes = window.last["seq_max"].take(where).cast(pa.int64())
        return out.append_column("cause_seq", causes)

    def _reversed_withdrawals(
        self, rows: pa.Table, reasons: npt.NDArray[np.int8], window: _Window, delivery: Delivery
    ) -> npt.NDArray[np.int8]:
        """Verdicts as of each deny or account change of the window, for records still eligible at
        the head (a deny then a grant, or a deactivation then a reactivation, between two
        scans)."""
        denies = window.denies
        if denies.num_rows == 0:
            return reasons
        relevant = pc.or_(
            pc.is_in(denies["purpose"], value_set=pa.array(["", delivery.purpose])),
            pc.and_(
                pc.equal(denies["purpose"], SHARE),
                pc.is_in(denies["recipient"], value_set=pa.array(["", delivery.recipient or ""])),
            ),
        )
        denies = denies.filter(relevant)
        still = reasons == Reason.ELIGIBLE
        if denies.num_rows == 0 or not still.any():
            return reasons
        accounts = rows["account_id"].to_numpy(zero_copy_only=False)
        eligible_accounts = set(accounts[still].tolist())
        for account, seq in zip(
            denies["account_id"].to_pylist(), denies["seq"].to_pylist(), strict=True
        ):
            if account not in eligible_accounts or seq <= delivery.ledger_seq:
                continue
            mine = np.nonzero((accounts == account) & (reasons == Reason.ELIGIBLE))[0]
            if len(mine) == 0:
                continue
            at = self.ledger.resolve(AsOf(seq=int(seq)))
            purposes = [delivery.purpose] + (
                [SHARE] if delivery.recipient and delivery.purpose != SHARE else []
            )
            index = StateIndex(
                self.ledger.account_states(at, account_id=account),
                self.ledger.consent_state(
                    at, purposes=purposes, recipient=delivery.recipient, account_id=account
                ),
                delivery.purpose,
                recipient=delivery.recipient is not None,
            )
            part = rows.take(pa.array(mine))
            no_deletions = np.zeros(len(mine), dtype=np.bool_)
            on = self.ledger.position_time(at).date()
            reasons[mine] = _verdicts(self.policy, part, no_deletions, index, on, delivery)[0]
        return reasons

    # ---- events ------------------------------------------------------------------------------

    def _new_events(self, delivery: Delivery, affected: pa.Table, at_us: int) -> pa.Table:
        pseudonyms = Pseudonymiser(self._secret, delivery.recipient)
        is_interaction = pc.equal(affected["tbl"], INTERACTIONS)
        record_ids = pseudonyms.contents(affected["content_id"])
        account = pc.if_else(is_interaction, pseudonyms.accounts(affected["account_id"]), "")
        n = affected.num_rows
        events = pa.table(
            {
                "event_id": pa.array(np.zeros(n, dtype=np.int64)),
                "recipient": pa.array([holder_key(delivery.recipient)] * n, pa.string()),
                "delivery_id": pa.array(np.full(n, delivery.delivery_id, dtype=np.int64)),
                "account_id": affected["account_id"],
                "tbl": affected["tbl"],
                "record_id": record_ids,
                "account": account,
                "reason": affected["reason"],
                "cause_seq": affected["cause_seq"],
                "at_us": pa.array(np.full(n, at_us, dtype=np.int64)),
            },
            schema=EVENT_SCHEMA,
        )
        # Events already sent for these records: by account when few are affected (the unique
        # key leads with delivery and account), else every event of the delivery at once.
        sql = "SELECT tbl, record_id, account FROM compliance_events WHERE delivery_id = ?"
        params: list[object] = [delivery.delivery_id]
        owners = pc.unique(affected["account_id"]).to_pylist()
        if len(owners) <= 500:
            sql += f" AND account_id IN ({', '.join('?' for _ in owners)})"
            params += owners
        sent = self.ledger.query_arrow(sql, params)
        if sent.num_rows:
            events = events.join(
                sent.cast(pa.schema([(f.name, pa.string()) for f in sent.schema])),
                keys=["tbl", "record_id", "account"],
                join_type="left anti",
            )
        # Deterministic order within a delivery: by account (each person's events together, and
        # the account index written in order), then table, then record.
        order = [("account_id", "ascending"), ("tbl", "ascending"), ("record_id", "ascending")]
        return events.sort_by(order).select(EVENT_SCHEMA.names)

    def _commit(
        self, start: tuple[int, int], window: _Window, events: pa.Table, caught_up: list[int]
    ) -> bool:
        with self.ledger.transaction():
            db.lock(self.ledger, "compliance-scan")
            if self.cursor() != start or self._late_ids() & set(caught_up) != set(caught_up):
                return False  # another scan committed meanwhile (these events, perhaps)
            for delivery_id in caught_up:
                self.ledger.execute(
                    "UPDATE deliveries SET caught_up = 1 WHERE delivery_id = ?", (delivery_id,)
                )
            if events.num_rows:
                first = db.next_id(self.ledger, "compliance_events", "event_id")
                ids = pa.array(np.arange(first, first + events.num_rows, dtype=np.int64))
                events = events.set_column(0, "event_id", ids)
                self.ledger.insert_arrow("compliance_events", events)
            params = (window.head.position.seq, window.imports_to, to_us(now()), CURSOR)
            if self.ledger.query("SELECT 1 FROM compliance_scan WHERE name = ?", (CURSOR,)):
                self.ledger.execute(
                    "UPDATE compliance_scan SET ledger_seq = ?, import_seq = ?, at_us = ?"
                    " WHERE name = ?",
                    params,
                )
            else:
                self.ledger.execute(
                    "INSERT INTO compliance_scan (ledger_seq, import_seq, at_us, name)"
                    " VALUES (?, ?, ?, ?)",
                    params,
                )
        return True


@dataclass(frozen=True)
class _MapJob:
    """One delivery to read, with the state index of its purpose and recipient."""

    delivery: Delivery
    index: StateIndex


@dataclass(frozen=True)
class _MapRead:
    """A delivery map's rows concerned by a window, their verdicts at the head, and its
    reposts (which follow their originals)."""

    candidates: pa.Table
    reasons: npt.NDArray[np.int8]
    erased: npt.NDArray[np.bool_]
    reposts: pa.Table


def _read_map(policy: Policy, job: _MapJob, window: _Window, on: date) -> _MapRead:
    # Only the rows concerned are materialised: the filter runs while the map is read.
    delivery = job.delivery
    concerned = ds.field("account_id").isin(window.touched) | ds.field("content_id").isin(
        window.deleted
    )
    candidates = delivery.read_map(_MAP_COLUMNS, where=concerned).combine_chunks()
    cand_deleted = bool_mask(pc.is_in(candidates["content_id"], value_set=window.deleted))
    reasons, erased = _verdicts(policy, candidates, cand_deleted, job.index, on, delivery)
    reposts = delivery.read_map(
        _MAP_COLUMNS,
        where=(ds.field("tbl") == DATA) & ds.field("origin_id").is_valid(),
        check=False,
    ).combine_chunks()
    return _MapRead(candidates, reasons, erased, reposts)


#: What a parallel scan's workers read, set just before they are forked.
_FORKED: tuple[Policy, list[_MapJob], _Window, date] | None = None


def _read_forked_map(index: int) -> _MapRead:
    assert _FORKED is not None, "a scan worker runs only in a process forked by _read_maps"
    policy, jobs, window, on = _FORKED
    return _read_map(policy, jobs[index], window, on)


def _verdicts(
    policy: Policy,
    rows: pa.Table,
    deleted: npt.NDArray[np.bool_],
    index: StateIndex,
    on: date,
    delivery: Delivery,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """Each row's verdict, and whether its account was erased."""
    n = rows.num_rows
    out = np.zeros(n, dtype=np.int8)
    erased = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return out, erased
    is_interaction = pc.equal(rows["tbl"], INTERACTIONS).to_numpy(zero_copy_only=False)
    for mask, scope in ((~is_interaction, None), (is_interaction, Scope.INTERACTIONS)):
        chosen = np.nonzero(mask)[0]
        if len(chosen) == 0:
            continue
        take = pa.array(chosen)
        part = rows.take(take)
        items = pa.table(
            {
                "author_id": part["account_id"],
                "kind": part["kind"] if scope is None else pa.array(["post"] * len(chosen)),
                # Delivered records were public or the owner's own conversations: only a
                # change of account, consent or deletion can exclude them now.
                "visibility": pa.array(["public"] * len(chosen), pa.string()),
                "deleted": pa.array(
                    deleted[chosen] if scope is None else np.zeros(len(chosen), np.bool_)
                ),
            }
        )
        frame = index.frame(items, scope=scope)
        erased[chosen] = bool_mask(pc.equal(frame["status"], AccountStatus.ERASED.value))
        out[chosen] = verdicts(
            frame,
            policy,
            delivery.purpose,
            recipient=delivery.recipient is not None,
            on=on,
        )
    return out, erased


def _distinct(events: pa.Table) -> pa.Table:
    """One event per (delivery, record): the first of those a scan found twice."""
    key = ["delivery_id", "account_id", "tbl", "record_id", "account"]
    numbered = events.append_column("_n", pa.array(np.arange(events.num_rows)))
    first = numbered.group_by(key, use_threads=False).aggregate([("_n", "min")])
    return events.take(pa.array(np.sort(first["_n_min"].to_numpy())))


def _concerned(window: _Window) -> pa.Array:
    """Accounts whose records the window may affect: those with entries, and the authors of
    deleted items."""
    return pc.unique(pa.concat_arrays([window.touched, window.deleted_authors]))


def _array(column: Any) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
