"""Entries given as Arrow columns: payloads built and encoded with compute kernels.

An import appends hundreds of thousands of entries; building a ``ConsentDecision`` or an
``AccountChange`` object per row, then a payload tuple, then its netstring, cost ~90 µs an entry
(more than parsing the posts those accounts wrote). Here the payload columns and their encoding
(``entries.encode_payload``, byte for byte) are computed per column; only the hash chain, which
is sequential by nature, runs per row.

Input columns (as an import stages them):

- decisions: ``account_id``, ``purpose``, ``decision``, ``at`` (timestamp), ``source``,
  ``scope``, ``notice_version``, ``recipient``;
- account states: ``account_id``, ``at`` (timestamp), ``created`` (bool), ``attr_mask`` (the
  ``ATTR_BIT`` bits of the attributes the entry sets), ``country``, ``birth_date`` (date),
  ``protected`` (bool), ``status``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.errors import UsageError
from consentry.ledger.entries import (
    ATTR_BIT,
    PAYLOAD_FIELDS,
    SALT_BYTES,
    EntryKind,
    Row,
    from_us,
)
from consentry.model import SHARE, AccountStatus, Decision, Scope, Source

_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
#: The input columns ``append_tables`` takes (as an import stages them).
ACCOUNT_CHANGE_SCHEMA: Final = pa.schema(
    [
        ("account_id", pa.string()),
        ("at", _TIMESTAMP),
        ("created", pa.bool_()),
        ("attr_mask", pa.int8()),
        ("country", pa.string()),
        ("birth_date", pa.date32()),
        ("protected", pa.bool_()),
        ("status", pa.string()),
    ]
)
DECISION_SCHEMA: Final = pa.schema(
    [
        ("account_id", pa.string()),
        ("purpose", pa.string()),
        ("decision", pa.string()),
        ("at", _TIMESTAMP),
        ("source", pa.string()),
        ("scope", pa.string()),
        ("notice_version", pa.string()),
        ("recipient", pa.string()),
    ]
)

_INT: Final = pa.int64()
_STR: Final = pa.string()
PAYLOAD_SCHEMA: Final = pa.schema(
    [
        (name, _INT if name in ("attr_mask", "protected", "at_us", "recorded_us") else _STR)
        for name in PAYLOAD_FIELDS
    ]
)


def _values(enum: Iterable[Any]) -> pa.Array:
    return pa.array(sorted(str(e.value) for e in enum))


def _array(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _blank_to_null(col: pa.Array) -> pa.Array:
    # ``Scope(scope) if scope else None``: an empty scope means none.
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)


def _check_enum(col: pa.Array, enum: Iterable[Any], what: str) -> None:
    bad = pc.and_(pc.is_valid(col), pc.invert(pc.is_in(col, value_set=_values(enum))))
    if pc.any(bad).as_py():
        value = col.filter(bad)[0].as_py()
        raise ValueError(f"{value!r} is not a valid {what}")


def _at_us(table: pa.Table) -> pa.Array:
    at = _array(table, "at")
    if at.null_count:
        raise UsageError("an entry has no time")
    return at.cast(pa.timestamp("us", tz="UTC")).cast(_INT)


def decision_payloads(table: pa.Table, recorded_us: int) -> pa.Table:
    """Payload columns (``PAYLOAD_SCHEMA``) of consent decisions, as ``decision_payload``."""
    n = table.num_rows
    decision, source = _array(table, "decision"), _array(table, "source")
    scope = _blank_to_null(_array(table, "scope").cast(_STR))
    _check_enum(decision, Decision, "Decision")
    _check_enum(source, Source, "Source")
    _check_enum(scope, Scope, "Scope")
    nulls_s, nulls_i = pa.nulls(n, _STR), pa.nulls(n, _INT)
    columns = {
        "kind": pa.array(np.full(n, EntryKind.CONSENT.value, dtype=object), _STR),
        "account_id": _array(table, "account_id"),
        "purpose": _array(table, "purpose"),
        "scope": scope,
        "decision": decision,
        "recipient": _array(table, "recipient"),
        "source": source,
        "notice_version": _array(table, "notice_version"),
        "attr_mask": nulls_i,
        "country": nulls_s,
        "birth_date": nulls_s,
        "protected": nulls_i,
        "status": nulls_s,
        "at_us": _at_us(table),
        "recorded_us": pa.array(np.full(n, recorded_us, dtype=np.int64)),
    }
    return pa.table(columns).cast(PAYLOAD_SCHEMA)


def account_payloads(table: pa.Table, recorded_us: int) -> pa.Table:
    """Payload columns (``PAYLOAD_SCHEMA``) of account states, as ``account_payload``: an
    attribute the entry does not set is null whatever its column holds."""
    n = table.num_rows
    mask = np.asarray(_array(table, "attr_mask").fill_null(0).to_numpy(zero_copy_only=False))
    mask = mask.astype(np.int64)
    created = np.asarray(_array(table, "created").fill_null(False).to_numpy(zero_copy_only=False))

    def masked(name: str, values: pa.Array) -> pa.Array:
        sets = pa.array((mask & ATTR_BIT[name]) != 0)
        return pc.if_else(sets, values, pa.scalar(None, values.type))

    status = _array(table, "status").cast(_STR)
    _check_enum(status, AccountStatus, "AccountStatus")
    kind = np.where(
        created, EntryKind.ACCOUNT_CREATED.value, EntryKind.ACCOUNT_CHANGED.value
    ).astype(object)
    nulls = pa.nulls(n, _STR)
    columns = {
        "kind": pa.array(kind, _STR),
        "account_id": _array(table, "account_id"),
        "purpose": nulls,
        "scope": nulls,
        "decision": nulls,
        "recipient": nulls,
        "source": nulls,
        "notice_version": nulls,
        "attr_mask": pa.array(mask),
        "country": masked("country", _array(table, "country").cast(_STR)),
        "birth_date": masked("birth_date", _array(table, "birth_date").cast(pa.date32())),
        "protected": masked("protected", _array(table, "protected").cast(_INT)),
        "status": masked("status", status),
        "at_us": _at_us(table),
        "recorded_us": pa.array(np.full(n, recorded_us, dtype=np.int64)),
    }
    return pa.table(columns).cast(PAYLOAD_SCHEMA)


def check_payloads(payloads: pa.Table, now_us: int, skew: timedelta) -> None:
    """What ``LedgerStore.append`` refuses, with the same messages (first offending row)."""
    account = _array(payloads, "account_id")
    limit = now_us + (skew.days * 86_400 + skew.seconds) * 1_000_000 + skew.microseconds
    at_us = _array(payloads, "at_us")
    future = pc.fill_null(pc.greater(at_us, limit), False)
    empty = pc.fill_null(pc.equal(pc.binary_length(account), 0), True)
    named = pc.and_(
        pc.fill_null(pc.not_equal(_array(payloads, "recipient"), ""), False),
        pc.fill_null(pc.not_equal(_array(payloads, "purpose"), SHARE), True),
    )

    def in_future(i: int) -> str:
        when = from_us(int(at_us[i].as_py())).isoformat()
        return f"time {when} of {account[i].as_py()}'s entry is in the future"

    problems: list[tuple[pa.Array, Callable[[int], str]]] = [
        (future, in_future),
        (empty, lambda _i: "account id is empty"),
        (named, lambda _i: "only a share decision can name a recipient"),
    ]
    first: tuple[int, str] | None = None
    for bad, say in problems:
        rows = np.nonzero(np.asarray(bad.to_numpy(zero_copy_only=False)))[0]
        if len(rows) and (first is None or rows[0] < first[0]):
            first = (int(rows[0]), say(int(rows[0])))
    if first is not None:
        raise UsageError(first[1])


def encode_payloads(payloads: pa.Table) -> list[bytes]:
    """``entries.encode_payload`` of every row: ``-`` for a missing value, else
    ``<code points>:<text>``, joined by ``|``."""
    parts = []
    for name in PAYLOAD_FIELDS:
        text = _array(payloads, name).cast(_STR)
        length = pc.utf8_length(text).cast(_STR)
        parts.append(pc.fill_null(pc.binary_join_element_wise(length, text, ":"), "-"))
    joined = pc.binary_join_element_wise(*parts, "|")
    encoded: list[bytes] = joined.cast(pa.binary()).to_pylist()
    return encoded


def chain_table(payloads: pa.Table, next_seq: int, prev_hash: bytes) -> tuple[list[Row], bytes]:
    """Rows (``ROW_FIELDS`` order) for payload columns appended after ``prev_hash``, and the
    new head: ``entries.chain_rows`` with the encoding done per column."""
    n = payloads.num_rows
    encoded = encode_payloads(payloads)
    salts = os.urandom(SALT_BYTES * n)
    sha256 = hashlib.sha256
    salt_list, digests, prevs, hashes = [], [], [], []
    seq = next_seq
    for i, payload in enumerate(encoded):
        salt = salts[i * SALT_BYTES : (i + 1) * SALT_BYTES]
        digest = sha256(salt + payload).digest()
        h = sha256(prev_hash + seq.to_bytes(8, "big") + digest).digest()
        salt_list.append(salt)
        digests.append(digest)
        prevs.append(prev_hash)
        hashes.append(h)
        prev_hash = h
        seq += 1
    columns = [payloads.column(name).to_pylist() for name in PAYLOAD_FIELDS]
    seqs = range(next_seq, next_seq + n)
    rows: list[Row] = list(zip(seqs, *columns, salt_list, digests, prevs, hashes, strict=True))
    return rows, prev_hash
