"""Folding ledger rows into state, vectorised over Arrow/numpy (millions of accounts per call).

The rule (DESIGN.md): per account, purpose and scope, the latest decision covering that scope
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


def fold_consent_state(rows: pa.Table | None, recipient: str | None) -> pa.Table:
    """Fold rows ``account_id, purpose, scope ('' = all), decision, recipient ('' = any), seq,
    at_us`` into the effective decision per account, purpose and scope."""
    if rows is None or rows.num_rows == 0:
        return CONSENT_STATE_SCHEMA.empty_table()
    wanted = pc.equal(rows["recipient"], "")
    if recipient:
        wanted = pc.or_(wanted, pc.equal(rows["recipient"], recipient))
    rows = rows.filter(wanted)
    unscoped = pc.equal(rows["scope"], "")
    scoped = rows.filter(pc.invert(unscoped))
    general = rows.filter(unscoped)
    parts = [scoped]
    for scope in SCOPES:
        parts.append(
            general.set_column(2, "scope", pa.array([scope] * general.num_rows, pa.string()))
        )
    expanded = pa.concat_tables(parts).combine_chunks()
    if expanded.num_rows == 0:
        return CONSENT_STATE_SCHEMA.empty_table()
    keys = [_codes(expanded[c]) for c in ("account_id", "purpose", "scope")]
    at = expanded["at_us"].to_numpy().astype(np.int64)
    seq = expanded["seq"].to_numpy().astype(np.int64)
    picked = expanded.take(pa.array(_last_per_group(keys, at, seq)))
    decision = pc.if_else(pc.equal(picked["decision"], "grant"), 1, 0).cast(pa.int8())
    table = pa.table(
        {
            "account_id": picked["account_id"],
            "purpose": picked["purpose"],
            "scope": picked["scope"],
            "decision": decision,
            "seq": picked["seq"].cast(pa.int64()),
            "at": picked["at_us"].cast(pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        },
        schema=CONSENT_STATE_SCHEMA,
    )
    return table.sort_by(
        [("account_id", "ascending"), ("purpose", "ascending"), ("scope", "ascending")]
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
