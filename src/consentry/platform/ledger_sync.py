"""What an import adds to the ledger: account-state entries and consent decisions, each only
when new, so that importing the same export twice appends nothing.

Accounts: an account the ledger has never seen gets a creation entry (all four attributes, at
its ``created_at``); a known one gets a change entry naming only the attributes that differ
from its current state (at the import's time: an export does not say when a state changed).
Decisions: one identical to a decision already in the ledger for that account (same purpose,
scope, decision, time, source and recipient) is not appended again. The staged rows become
entries through ``consentry.ledger.bulk`` (payloads built per column, not per object).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import hash_ids
from consentry.content.schema import TIMESTAMP
from consentry.content.store import first_per_key
from consentry.content.writer import equal_values
from consentry.ledger import LedgerStore
from consentry.ledger.bulk import ACCOUNT_CHANGE_SCHEMA
from consentry.masks import bool_mask
from consentry.model import (
    ACCOUNT_ATTRIBUTES,
)
from consentry.platform.keyset import KeySet

Mask = npt.NDArray[np.bool_]

_STATE_COLUMNS: Final = ("account_id", *ACCOUNT_ATTRIBUTES)


def _last_per_account(table: pa.Table) -> pa.Table:
    ids = table.column("account_id").combine_chunks()
    if pc.count_distinct(ids).as_py() == table.num_rows:
        return table
    n = table.num_rows
    reversed_ids = ids.take(pa.array(np.arange(n - 1, -1, -1)))
    last = np.sort(n - 1 - first_per_key(reversed_ids))
    return table.take(pa.array(last))


class _RowsByKey:
    """Rows of a growing sequence of tables, found by the hash of their account id: runs of
    sorted keys, merged whenever the newest is as long as the one before (each row is merged
    about log N times), so that finding a batch's ids costs a few binary searches, not a hash
    set of every row so far built again for every batch (which made importing 10M accounts
    quadratic: hours)."""

    def __init__(self) -> None:
        self.runs: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]] = []
        self.count = 0

    def add(self, keys: npt.NDArray[np.uint64]) -> None:
        """Rows ``count`` … ``count + len(keys) - 1``, in order."""
        rows = np.arange(self.count, self.count + len(keys), dtype=np.int64)
        self.count += len(keys)
        # Each run by key, then by row: a key's last row is the last of its equal keys. A
        # stable sort keeps rows in order among equal keys, the older run's first.
        order = np.argsort(keys, kind="stable")
        run = (keys[order], rows[order])
        while self.runs and len(self.runs[-1][0]) <= len(run[0]):
            older = self.runs.pop()
            merged = np.concatenate([older[0], run[0]])
            order = np.argsort(merged, kind="stable")
            run = (merged[order], np.concatenate([older[1], run[1]])[order])
        self.runs.append(run)

    def last(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """The last row whose key is each of ``keys``, -1 where none is."""
        out = np.full(len(keys), -1, dtype=np.int64)
        for run_keys, run_rows in self.runs:
            if not len(run_keys):
                continue
            at = np.searchsorted(run_keys, keys, side="right") - 1
            hit = (at >= 0) & (run_keys[np.maximum(at, 0)] == keys)
            out[hit] = np.maximum(out[hit], run_rows[at[hit]])
        return out


class AccountSync:
    """Turns batches of imported accounts into the ledger entries they call for."""

    def __init__(self, ledger: LedgerStore, now: datetime) -> None:
        self.now = now
        self.ledger_state = ledger.account_states().select(list(_STATE_COLUMNS))
        self._ledger_ids = self.ledger_state.column("account_id").combine_chunks()
        self._ledger_rows = _RowsByKey()
        self._ledger_rows.add(hash_ids(self._ledger_ids))
        self._seen: list[pa.Table] = []  # states this import already set, oldest first
        self._seen_ids: list[pa.Array] = []
        self._seen_starts: list[int] = []  # the first row of each, in ``_seen_rows``
        self._seen_rows = _RowsByKey()

    def known_ids(self) -> pa.Array:
        return self._ledger_ids

    def _seen_id_at(self, rows: npt.NDArray[np.int64]) -> pa.Array:
        """The account id of each row of ``_seen`` (rows numbered across its tables)."""
        return self._seen_take(rows, self._seen_ids)

    def _seen_take(self, rows: npt.NDArray[np.int64], parts: list[Any]) -> Any:
        """Rows numbered across ``parts`` (tables or arrays aligned with ``_seen``), in the
        order asked (at least one)."""
        starts = np.asarray(self._seen_starts, dtype=np.int64)
        part = np.searchsorted(starts, rows, side="right") - 1
        pieces = []
        order = []
        for p in np.unique(part).tolist():
            mine = np.flatnonzero(part == p)
            pieces.append(parts[p].take(pa.array(rows[mine] - starts[p])))
            order.append(mine)
        tables = isinstance(pieces[0], pa.Table)
        joined = pa.concat_tables(pieces) if tables else pa.concat_arrays(pieces)
        back = np.empty(len(rows), dtype=np.int64)
        back[np.concatenate(order)] = np.arange(len(rows))
        return joined.take(pa.array(back))

    def _find(
        self, ids: pa.Array, keys: npt.NDArray[np.uint64], rows: _RowsByKey, id_at: Any, every: Any
    ) -> npt.NDArray[np.int64]:
        """The last row holding each id (-1: none): found by key, confirmed by id. A key
        shared by two ids (a hash collision, rare) is settled by the ids themselves."""
        found = rows.last(keys)
        hit = np.flatnonzero(found >= 0)
        if len(hit):
            same = pc.equal(id_at(found[hit]), ids.take(pa.array(hit)))
            wrong = hit[~bool_mask(same)]
            if len(wrong):
                every_ids = every()
                reversed_ids = every_ids.take(pa.array(np.arange(len(every_ids) - 1, -1, -1)))
                where = pc.index_in(ids.take(pa.array(wrong)), value_set=reversed_ids)
                at = pc.fill_null(where, 0).to_numpy(zero_copy_only=False).astype(np.int64)
                found[wrong] = np.where(bool_mask(pc.is_valid(where)), len(every_ids) - 1 - at, -1)
        return found

    def _current(self, ids: pa.Array) -> tuple[pa.Table, Mask]:
        """Current state of each id (this import's latest, else the ledger's) and which exist."""
        n = len(ids)
        state = self.ledger_state
        keys = hash_ids(ids)
        in_ledger = self._find(
            ids,
            keys,
            self._ledger_rows,
            lambda rows: self._ledger_ids.take(pa.array(rows)),
            lambda: self._ledger_ids,
        )
        in_seen = (
            self._find(
                ids,
                keys,
                self._seen_rows,
                self._seen_id_at,
                lambda: pa.concat_arrays(self._seen_ids),
            )
            if self._seen
            else np.full(n, -1, dtype=np.int64)
        )
        # Ids seen earlier in this import: their state as this import left it.
        from_seen = in_seen >= 0
        from_ledger = ~from_seen & (in_ledger >= 0)
        exists = from_seen | from_ledger
        if not exists.any():
            nulls = [pa.nulls(n, f.type) for f in state.schema]
            return pa.Table.from_arrays(nulls, schema=state.schema), exists
        parts = [state.take(pa.array(in_ledger[from_ledger]))]
        if from_seen.any():
            parts.append(self._seen_take(in_seen[from_seen], self._seen).cast(state.schema))
        found = pa.concat_tables(parts).combine_chunks()
        where = np.zeros(n, dtype=np.int64)  # a row for every id; those not found are masked
        where[from_ledger] = np.arange(int(from_ledger.sum()))
        where[from_seen] = int(from_ledger.sum()) + np.arange(int(from_seen.sum()))
        current = found.take(pa.array(where))
        return current, exists

    def changes(self, accounts: pa.Table) -> tuple[pa.Table, pa.Array]:
        """Ledger entries for a batch (typed accounts), and the ids they concern."""
        accounts = _last_per_account(accounts)
        ids = accounts.column("account_id").combine_chunks()
        current, exists = self._current(ids)
        differs: dict[str, Mask] = {}
        for name in ACCOUNT_ATTRIBUTES:
            new = accounts.column(name).combine_chunks()
            old = current.column(name).combine_chunks().cast(new.type)
            differs[name] = exists & ~equal_values(new, old)
        mask = np.zeros(len(ids), dtype=np.int8)
        for bit, name in enumerate(ACCOUNT_ATTRIBUTES):
            mask |= differs[name].astype(np.int8) << bit
        created = ~exists
        mask[created] = (1 << len(ACCOUNT_ATTRIBUTES)) - 1
        entry = created | (mask != 0)
        rows = np.nonzero(entry)[0]
        picked = accounts.take(pa.array(rows))
        at = pc.if_else(
            pa.array(created[rows]),
            picked.column("created_at"),
            pa.scalar(self.now, TIMESTAMP),
        )
        table = pa.table(
            {
                "account_id": picked.column("account_id"),
                "at": at,
                "created": pa.array(created[rows]),
                "attr_mask": pa.array(mask[rows], pa.int8()),
                **{name: picked.column(name) for name in ACCOUNT_ATTRIBUTES},
            }
        ).cast(ACCOUNT_CHANGE_SCHEMA)
        self._seen_starts.append(self._seen_rows.count)
        self._seen.append(accounts.select(list(_STATE_COLUMNS)))
        self._seen_ids.append(ids)
        self._seen_rows.add(hash_ids(ids))
        return table, table.column("account_id").combine_chunks()


def _decision_keys(
    account: Any, purpose: Any, scope: Any, decision: Any, at_us: Any, source: Any, recipient: Any
) -> pa.Array:
    parts = [account, purpose, scope, decision, pc.cast(at_us, pa.string()), source, recipient]
    out = pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace", null_replacement="")
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


class DecisionSync:
    """Keeps a decision out when the ledger (or this import) already holds an identical one."""

    def __init__(self, ledger: LedgerStore) -> None:
        rows = ledger.decisions()
        keys = _decision_keys(*(rows.column(i).cast(pa.string()) for i in range(rows.num_columns)))
        # Sorted runs rather than ``is_in`` against all known keys: that rebuilt a hash table
        # of every decision seen for each batch (the cost of a batch grew with the input).
        self._known = KeySet()
        self._known.add(keys.take(pa.array(first_per_key(keys))) if len(keys) else keys)

    def fresh(self, decisions: pa.Table) -> Mask:
        """Which decisions of a batch (typed) are new; marks them as known."""
        at_us = decisions.column("at").cast(pa.int64())
        keys = _decision_keys(
            decisions.column("account_id"),
            decisions.column("purpose"),
            decisions.column("scope"),
            decisions.column("decision"),
            at_us,
            decisions.column("source"),
            decisions.column("recipient"),
        )
        fresh = ~self._known.contains(keys)
        firsts = np.zeros(len(keys), dtype=np.bool_)
        firsts[first_per_key(keys)] = True
        fresh &= firsts  # the same decision twice in one batch counts once
        self._known.add(keys.filter(pa.array(fresh)))
        return fresh
