"""Attach ledger state to content items: the eligibility frame ``verdicts`` decides on.

The account and consent state as of one position (``account_states`` / ``consent_state``) are
indexed once: accounts sorted by a 64-bit key of their id, with their attributes and their
decision per scope in arrays aligned with that order. Each batch of items is then a binary
search and a few gathers, instead of hash joins that would rebuild a table of every account
for every batch. A found key is confirmed against the id itself, so a hash collision can only
make an author unknown (and its content excluded), never lend it someone else's consent.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import hash_ids
from consentry.masks import bool_mask
from consentry.model import ASSISTANT_KINDS, SHARE, Scope
from consentry.policy.eligibility import FRAME_SCHEMA

_ASSISTANT_KINDS: Final = pa.array(sorted(k.value for k in ASSISTANT_KINDS))
SCOPE_CODES: Final = {scope: i for i, scope in enumerate(Scope)}
_SCOPE_VALUES: Final = pa.array([scope.value for scope in Scope])
NONE: Final = -1

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


def _ascending(keys: U64) -> bool:
    return bool(len(keys) < 2 or np.all(keys[1:] >= keys[:-1]))


def _in_order(table: pa.Table, name: str, taken: pa.Array | None) -> pa.Array:
    """One column of ``table`` as one array, its rows taken in ``taken`` order if given."""
    if not table.num_rows:
        return pa.array([], table.schema.field(name).type)
    column = table[name].combine_chunks()
    return column if taken is None else column.take(taken)


def item_scope(kind: Any) -> Any:
    """The consent scope governing each content item, from its kind."""
    return pc.if_else(
        pc.is_in(kind, value_set=_ASSISTANT_KINDS), Scope.ASSISTANT.value, Scope.POSTS.value
    )


def _scope_codes(kind: Any) -> npt.NDArray[np.int8]:
    assistant = pc.is_in(kind, value_set=_ASSISTANT_KINDS).to_numpy(zero_copy_only=False)
    return np.where(assistant, SCOPE_CODES[Scope.ASSISTANT], SCOPE_CODES[Scope.POSTS]).astype(
        np.int8
    )


class _Decisions:
    """One purpose's decision (1, 0, or -1 = none) and deciding entry, per account and scope."""

    def __init__(self, n_accounts: int) -> None:
        self.decision = np.full((len(Scope), n_accounts), NONE, dtype=np.int8)
        self.seq = np.full((len(Scope), n_accounts), NONE, dtype=np.int64)

    def gather(
        self, scope: npt.NDArray[np.int8], idx: I64, known: npt.NDArray[np.bool_]
    ) -> tuple[Any, Any]:
        if self.decision.shape[1] == 0:
            n = len(idx)
            return pa.nulls(n, pa.int8()), pa.nulls(n, pa.int64())
        d = np.where(known, self.decision[scope, idx], NONE)
        s = np.where(known, self.seq[scope, idx], NONE)
        return pa.array(d, pa.int8(), mask=d < 0), pa.array(s, pa.int64(), mask=s < 0)


class StateIndex:
    """The ledger state as of one position, ready to be looked up batch by batch.

    ``accounts``: ``account_states()`` output. ``consent``: ``consent_state()`` output holding at
    least ``purpose`` (and ``share`` for recipient snapshots).
    """

    def __init__(
        self,
        accounts: pa.Table,
        consent: pa.Table,
        purpose: str,
        *,
        recipient: bool,
        keys: tuple[U64, U64] | None = None,
    ):
        """``keys``: when the caller has them (``state_parts.read_keyed_state``), the key of
        each row of ``accounts`` and of ``consent``, ``accounts`` in ascending key order."""
        self.purpose = purpose
        self.recipient = recipient
        ids = (
            accounts["account_id"].combine_chunks()
            if accounts.num_rows
            else pa.array([], pa.string())
        )
        taken: pa.Array | None = None  # the rows in key order, when they are not already
        if keys is not None and _ascending(keys[0]):
            self._keys = keys[0]
        else:
            account_keys = hash_ids(ids)
            order = np.argsort(account_keys, kind="stable")
            self._keys = account_keys[order]
            taken = pa.array(order, pa.int64())
        self._ids = ids if taken is None else ids.take(taken)
        self._columns = {
            name: _in_order(accounts, name, taken)
            for name in ("country", "birth_date", "protected", "status")
        }
        consent_keys = None if keys is None else keys[1]
        self.consent = self._decisions(consent, purpose, consent_keys)
        self.share = self._decisions(consent, SHARE, consent_keys) if recipient else None

    def lookup(self, ids: Any, keys: U64 | None = None) -> tuple[I64, npt.NDArray[np.bool_]]:
        """Position of each id in the index, and whether it is there (``keys``: their
        ``hash_ids``, when the caller has them)."""
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        n = len(ids)
        if len(self._keys) == 0:
            return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)
        if keys is None:
            keys = hash_ids(ids)
        # Searching the keys in ascending order is several times faster on millions of sorted
        # keys (each search starts near where the previous one ended; memory is walked forwards).
        if _ascending(keys):
            pos = np.searchsorted(self._keys, keys).astype(np.int64)
        else:
            order = np.argsort(keys)
            pos = np.empty(n, dtype=np.int64)
            pos[order] = np.searchsorted(self._keys, keys[order])
        pos[pos >= len(self._keys)] = 0
        candidate = self._keys[pos] == keys
        same = pc.equal(self._ids.take(pa.array(pos)), ids)
        known = candidate & bool_mask(same)
        return pos.astype(np.int64), known

    def _decisions(self, consent: pa.Table, purpose: str, keys: U64 | None) -> _Decisions:
        out = _Decisions(len(self._keys))
        if consent.num_rows == 0 or len(self._keys) == 0:
            return out
        mask = pc.equal(consent["purpose"], purpose)
        chosen = consent.filter(mask)
        if chosen.num_rows == 0:
            return out
        if keys is not None:
            keys = keys[bool_mask(mask)]
        # Decisions of accounts without state are left out: such an author is unknown, and
        # its content excluded, whatever it decided.
        idx, known = self.lookup(chosen["account_id"], keys)
        codes = pc.index_in(chosen["scope"], value_set=_SCOPE_VALUES)
        if codes.null_count:
            raise ValueError("a consent state row has no scope")
        scope = codes.to_numpy(zero_copy_only=False).astype(np.int64)
        decision = chosen["decision"].to_numpy(zero_copy_only=False).astype(np.int8)
        seq = chosen["seq"].to_numpy(zero_copy_only=False).astype(np.int64)
        out.decision[scope[known], idx[known]] = decision[known]
        out.seq[scope[known], idx[known]] = seq[known]
        return out

    def frame(
        self,
        items: pa.Table | pa.RecordBatch,
        *,
        author: str = "author_id",
        scope: Scope | None = None,
    ) -> pa.Table:
        """Frame rows in the order of ``items`` (which need ``author``, ``kind``,
        ``visibility`` and ``deleted``), plus ``consent_seq`` and ``share_seq``: the ledger
        entries that decided.

        ``scope`` overrides the scope derived from each item's kind (interactions are governed
        by the ``interactions`` scope whatever they point at)."""
        n = items.num_rows
        idx, known = self.lookup(items.column(author))
        scopes = (
            np.full(n, SCOPE_CODES[scope], dtype=np.int8)
            if scope is not None
            else _scope_codes(items.column("kind"))
        )
        consent, consent_seq = self.consent.gather(scopes, idx, known)
        if self.share is not None:
            share, share_seq = self.share.gather(scopes, idx, known)
        else:
            share, share_seq = pa.nulls(n, pa.int8()), pa.nulls(n, pa.int64())
        unknown = pa.array(~known)
        take = pa.array(idx)

        def account(name: str) -> Any:
            column = self._columns[name]
            if len(column) == 0:
                return pa.nulls(n, column.type)
            return pc.if_else(unknown, pa.scalar(None, column.type), column.take(take))

        frame = pa.table(
            {
                "kind": items.column("kind"),
                "visibility": items.column("visibility"),
                "deleted": pc.fill_null(items.column("deleted"), False),
                "account_known": pa.array(known),
                "status": account("status"),
                "protected": pc.fill_null(account("protected"), False),
                "birth_date": account("birth_date"),
                "country": account("country"),
                "consent": consent,
                "share": share,
            },
            schema=FRAME_SCHEMA,
        )
        return frame.append_column("consent_seq", consent_seq).append_column("share_seq", share_seq)
