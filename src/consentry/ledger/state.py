"""Folding ledger rows into state, vectorised over Arrow/numpy (millions of accounts per call).

The rule (docs/concepts.md): per account, purpose and scope, the latest decision covering that scope
wins, by its time ``at``, ties broken by ledger order. A decision without scope covers every scope.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.model import ACCOUNT_ATTRIBUTES, AccountStatus, Scope

SCOPES: Final = tuple(s.value for s in Scope)

CONSENT_STATE_SCHEMA: Final = pa.schema(
    [
        ("account_id", pa.string()),
        ("purpose", pa.string()),
        ("scope", pa.string()),
        ("decision", pa.int8()),
        ("seq", pa.int64()),
        ("at", pa.timestamp("us", tz="UTC")),
    ]
)

#: Raw consent rows as read from the ledger ('' for no scope, no recipient).
CONSENT_ROWS_SCHEMA: Final = pa.schema(
    [
        ("account_id", pa.string()),
        ("purpose", pa.string()),
        ("scope", pa.string()),
        ("decision", pa.string()),
        ("recipient", pa.string()),
        ("seq", pa.int64()),
        ("at_us", pa.int64()),
    ]
)

ACCOUNT_STATE_SCHEMA: Final = pa.schema(
    [
        ("account_id", pa.string()),
        ("country", pa.string()),
        ("birth_date", pa.date32()),
        ("protected", pa.bool_()),
        ("status", pa.string()),
        ("created_seq", pa.int64()),
    ]
)


def _codes(col: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.int64]:
    encoded = pc.dictionary_encode(col)
    if isinstance(encoded, pa.ChunkedArray):
        # Chunks may carry different dictionaries: unify so that codes compare across chunks.
        encoded = encoded.unify_dictionaries()
        indices = pa.chunked_array([c.indices for c in encoded.chunks], type=pa.int32())
        out: npt.NDArray[np.int64] = indices.to_numpy().astype(np.int64)
        return out
    return np.asarray(encoded.indices.to_numpy(), dtype=np.int64)


def _last_per_group(
    keys: list[npt.NDArray[np.int64]], at: npt.NDArray[np.int64], seq: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Row indices of the last row (by ``at``, then ``seq``) of each group of equal ``keys``."""
    if len(seq) == 0:
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((seq, at, *reversed(keys)))
    boundary = np.zeros(len(order), dtype=np.bool_)
    boundary[-1] = True
    for key in keys:
        sorted_key = key[order]
        boundary[:-1] |= sorted_key[:-1] != sorted_key[1:]
    out: npt.NDArray[np.int64] = order[boundary]
    return out


#: Scopes in sorted order: a scope's index here is its code, so that code order is text order.
_SCOPE_ORDER: Final = pa.array(sorted(SCOPES), pa.string())


def _sorted_codes(col: pa.ChunkedArray | pa.Array) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """Codes of ``col``'s values numbered in sorted order (so that sorting by code sorts by
    text), and the sorted distinct values they index."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    encoded = pc.dictionary_encode(col)
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    codes: npt.NDArray[np.int64] = rank[encoded.indices.to_numpy()]
    return codes, encoded.dictionary.take(pa.array(order))


def reduce_consent_rows(rows: pa.Table) -> pa.Table:
    """Of raw consent rows, only the latest (by ``at``, then ``seq``) per account, purpose,
    scope and recipient: all that any later fold can need of them, since a fold keeps the
    latest decision that covers each scope. Reducing a reduction with newer rows equals reducing
    everything, which is what makes checkpoints possible."""
    if rows.num_rows == 0:
        return rows
    rows = rows.combine_chunks()
    keys = [_codes(rows[c]) for c in ("account_id", "purpose", "scope", "recipient")]
    at = rows["at_us"].to_numpy().astype(np.int64)
    seq = rows["seq"].to_numpy().astype(np.int64)
    return rows.take(pa.array(_last_per_group(keys, at, seq)))


def fold_consent_state(rows: pa.Table | None, recipient: str | None) -> pa.Table:
    """Fold rows ``account_id, purpose, scope ('' = all), decision, recipient ('' = any), seq,
    at_us`` into the effective decision per account, purpose and scope, sorted by those.

    Vectorised without expanding unscoped rows into one row per scope: rows are ranked by
    (``at``, ``seq``); per (account, purpose) the latest unscoped rank and per (account,
    purpose, scope) the latest scoped rank are taken, and the later of the two decides.
    """
    if rows is None or rows.num_rows == 0:
        return CONSENT_STATE_SCHEMA.empty_table()
    wanted = pc.equal(rows["recipient"], "")
    if recipient:
        wanted = pc.or_(wanted, pc.equal(rows["recipient"], recipient))
    if not pc.all(wanted).as_py():
        rows = rows.filter(wanted)
    n = rows.num_rows
    if n == 0:
        return CONSENT_STATE_SCHEMA.empty_table()
    account, accounts = _sorted_codes(rows["account_id"])
    purpose, purposes = _sorted_codes(rows["purpose"])
    scope_codes = pc.index_in(rows["scope"], value_set=_SCOPE_ORDER).fill_null(-1)
    scope = scope_codes.to_numpy().astype(np.int64)  # -1: no scope, i.e. every scope
    at = rows["at_us"].to_numpy().astype(np.int64)
    seq = rows["seq"].to_numpy().astype(np.int64)
    by_time = np.lexsort((seq, at))  # rank r is row by_time[r]; later decisions rank higher
    rank = np.empty(n, dtype=np.int64)
    rank[by_time] = np.arange(n, dtype=np.int64)
    # Dense ids of the (account, purpose) pairs present, in (account, purpose) order.
    n_purposes = len(purposes)
    pairs, pair = np.unique(account * n_purposes + purpose, return_inverse=True)
    pair = pair.reshape(-1)
    n_scopes = len(_SCOPE_ORDER)
    unscoped = scope < 0
    latest_all = np.full(len(pairs), -1, dtype=np.int64)
    np.maximum.at(latest_all, pair[unscoped], rank[unscoped])
    scoped = ~unscoped
    latest_one = np.full(len(pairs) * n_scopes, -1, dtype=np.int64)
    np.maximum.at(latest_one, pair[scoped] * n_scopes + scope[scoped], rank[scoped])
    # Per (pair, scope), in sorted order: the later of the scope's own and the general decision.
    winner = np.maximum(latest_one.reshape(-1, n_scopes), latest_all[:, None]).reshape(-1)
    keep = np.nonzero(winner >= 0)[0]
    picked = by_time[winner[keep]]
    pair_of = pairs[keep // n_scopes]
    grant = pc.equal(rows["decision"], "grant").to_numpy(zero_copy_only=False)
    return pa.table(
        {
            "account_id": accounts.take(pa.array(pair_of // n_purposes)),
            "purpose": purposes.take(pa.array(pair_of % n_purposes)),
            "scope": _SCOPE_ORDER.take(pa.array(keep % n_scopes)),
            "decision": pa.array(grant[picked].astype(np.int8)),
            "seq": pa.array(seq[picked]),
            "at": pa.array(at[picked]).cast(pa.timestamp("us", tz="UTC")),
        },
        schema=CONSENT_STATE_SCHEMA,
    )


def fold_account_states(rows: pa.Table | None) -> pa.Table:
    """Rows: ``account_id, kind, attr_mask, country, birth_date, protected, status, seq, at_us``
    with '' / -1 standing for NULL (see ``LedgerStore.account_states``)."""
    if rows is None or rows.num_rows == 0:
        return ACCOUNT_STATE_SCHEMA.empty_table()
    rows = rows.combine_chunks()
    accounts = _codes(rows["account_id"])
    at = rows["at_us"].to_numpy().astype(np.int64)
    seq = rows["seq"].to_numpy().astype(np.int64)
    mask = rows["attr_mask"].to_numpy(zero_copy_only=False).astype(np.int64)
    # One row per account (its latest entry of any kind): the frame filled attribute by attribute.
    latest = _last_per_group([accounts], at, seq)
    latest_ids = rows["account_id"].take(pa.array(latest))
    n = len(latest)
    slot = np.full(int(accounts.max()) + 1, -1, dtype=np.int64)
    slot[accounts[latest]] = np.arange(n)
    columns: dict[str, pa.Array] = {}
    defaults: dict[str, pa.Array] = {
        "country": pa.nulls(n, pa.string()),
        "birth_date": pa.nulls(n, pa.string()),
        "protected": pa.array(np.zeros(n, dtype=np.int64)),
        "status": pa.array([AccountStatus.ACTIVE.value] * n, pa.string()),
    }
    for bit_index, name in enumerate(ACCOUNT_ATTRIBUTES):
        has = (mask & (1 << bit_index)) != 0
        idx = np.nonzero(has)[0]
        base = defaults[name]
        if len(idx) == 0:
            columns[name] = base
            continue
        last = idx[_last_per_group([accounts[idx]], at[idx], seq[idx])]
        values = rows[name].take(pa.array(last))
        positions = slot[accounts[last]]
        # Scatter the per-account latest values into the frame's order.
        order = np.full(n, -1, dtype=np.int64)
        order[positions] = np.arange(len(last))
        taken = values.take(pa.array(np.where(order >= 0, order, 0)))
        columns[name] = pc.if_else(pa.array(order >= 0), taken, base.cast(taken.type))
    country = pc.if_else(pc.equal(columns["country"], ""), None, columns["country"])
    birth_text = columns["birth_date"].cast(pa.string())
    birth = pc.if_else(pc.equal(birth_text, ""), None, birth_text)
    protected = pc.equal(columns["protected"].cast(pa.int64()), 1)
    status = pc.if_else(
        pc.equal(columns["status"], ""), AccountStatus.ACTIVE.value, columns["status"]
    )
    created = pc.equal(rows["kind"], "account_created")
    created_idx = np.nonzero(created.to_numpy(zero_copy_only=False))[0]
    created_seq = np.full(n, -1, dtype=np.int64)
    if len(created_idx):
        first = created_idx[np.lexsort((seq[created_idx], accounts[created_idx]))]
        # Earliest creation per account: reverse so that the first write per slot wins.
        for_slots = slot[accounts[first]][::-1]
        created_seq[for_slots] = seq[first][::-1]
    table = pa.table(
        {
            "account_id": latest_ids,
            "country": country.cast(pa.string()),
            "birth_date": pc.strptime(birth, format="%Y-%m-%d", unit="s").cast(pa.date32()),
            "protected": protected,
            "status": status.cast(pa.string()),
            "created_seq": pa.array(np.where(created_seq >= 0, created_seq, 0)).cast(pa.int64()),
        },
        schema=ACCOUNT_STATE_SCHEMA,
    )
    created_valid = pa.array(created_seq >= 0)
    table = table.set_column(
        5,
        "created_seq",
        pc.if_else(created_valid, table["created_seq"], pa.scalar(None, pa.int64())),
    )
    return table.sort_by("account_id")
