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

from consentry.content.schema import TIMESTAMP
from consentry.content.store import first_per_key
from consentry.content.writer import equal_values
from consentry.ledger import LedgerStore
from consentry.ledger.bulk import ACCOUNT_CHANGE_SCHEMA
from consentry.model import (
    ACCOUNT_ATTRIBUTES,
)
from consentry.platform.keyset import KeySet

Mask = npt.NDArray[np.bool_]

_STATE_COLUMNS: Final = ("account_id", *ACCOUNT_ATTRIBUTES)


def _np(arr: Any) -> Mask:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=np.bool_)


def _last_per_account(table: pa.Table) -> pa.Table:
    ids = table.column("account_id").combine_chunks()
    if pc.count_distinct(ids).as_py() == table.num_rows:
        return table
    n = table.num_rows
    reversed_ids = ids.take(pa.array(np.arange(n - 1, -1, -1)))
    last = np.sort(n - 1 - first_per_key(reversed_ids))
    return table.take(pa.array(last))


class AccountSync:
    """Turns batches of imported accounts into the ledger entries they call for."""

    def __init__(self, ledger: LedgerStore, now: datetime) -> None:
        self.now = now
        self.ledger_state = ledger.account_states().select(list(_STATE_COLUMNS))
        self._ledger_ids = self.ledger_state.column("account_id").combine_chunks()
        self._seen: list[pa.Table] = []  # states this import already set, oldest first

    def known_ids(self) -> pa.Array:
        return self._ledger_ids

    def _current(self, ids: pa.Array) -> tuple[pa.Table, Mask]:
        """Current state of each id (this import's latest, else the ledger's) and which exist."""
        n = len(ids)
        state = self.ledger_state
        where = pc.index_in(ids, value_set=self._ledger_ids)
        if self._seen:
            seen = pa.concat_tables(self._seen).combine_chunks()
            seen = _last_per_account(seen)
            in_seen = pc.index_in(ids, value_set=seen.column("account_id"))
            if in_seen.null_count < n:
                # Ids seen earlier in this import: their state as this import left it.
                offset = state.num_rows
                state = pa.concat_tables([state, seen.cast(state.schema)])
                where = pc.if_else(
                    pc.is_valid(in_seen), pc.add(in_seen.cast(pa.int64()), offset), where
                )
        exists = _np(pc.is_valid(where))
        if state.num_rows == 0:
            nulls = [pa.nulls(n, f.type) for f in state.schema]
            return pa.Table.from_arrays(nulls, schema=state.schema), exists
        current = state.take(pc.fill_null(where, 0))
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
        self._seen.append(accounts.select(list(_STATE_COLUMNS)))
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
