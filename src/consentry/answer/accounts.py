"""Per-account state for live eligibility: the ledger's account and consent state, in arrays.

One slot per author the index knows, in arrays aligned by slot: status, protection, birth date,
country and, per purpose of the policy and per scope, the effective decision. A slot is found
by a 64-bit key of the account id (``hash_ids``, the content store's own hash), always
confirmed against the id itself: a hash collision can only make an author unknown (and its
content excluded), never lend it someone else's consent.

State comes from the ledger's own folds (``fold_account_states``, ``fold_consent_state``) over
the rows of the accounts asked about, so that a refresh after one decision reads that account's
entries, not the whole ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import hash_ids
from consentry.ledger import LedgerStore
from consentry.ledger.state import (
    CONSENT_ROWS_SCHEMA,
    fold_account_states,
    fold_consent_state,
)
from consentry.model import AccountStatus, ContentKind, Scope, Visibility
from consentry.policy import Policy, verdicts
from consentry.policy.eligibility import FRAME_SCHEMA


def _today() -> date:
    return datetime.now(UTC).date()


NONE: Final = -1
#: ``birth`` of an account whose birth date is unknown (days since 1970-01-01 otherwise).
NO_BIRTH: Final = np.iinfo(np.int32).min
STATUSES: Final = tuple(s.value for s in AccountStatus)
SCOPES: Final = tuple(Scope)
#: The scopes content items fall in (interactions are not items): index in ``reason``.
ITEM_SCOPES: Final = (Scope.POSTS, Scope.ASSISTANT)
ITEM_SCOPE_CODES: Final = tuple(SCOPES.index(s) for s in ITEM_SCOPES)
_NEUTRAL_KINDS: Final = pa.array([ContentKind.POST.value, ContentKind.ASSISTANT_PROMPT.value])
#: Accounts per ``IN (…)`` list when their entries are read back.
_IN_LIST: Final = 500

_ACCOUNT_SQL: Final = (
    "SELECT account_id, kind, attr_mask, coalesce(country, '') AS country,"
    " coalesce(birth_date, '') AS birth_date, coalesce(protected, -1) AS protected,"
    " coalesce(status, '') AS status, seq, at_us FROM ledger_entries"
    " WHERE kind <> 'consent' AND seq <= ?"
)
_CONSENT_SQL: Final = (
    "SELECT account_id, purpose, coalesce(scope, '') AS scope, decision,"
    " coalesce(recipient, '') AS recipient, seq, at_us FROM ledger_entries"
    " WHERE kind = 'consent' AND seq <= ?"
)

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Fetched:
    """Ledger rows read for some accounts, up to ``upto``: (account rows, consent rows, the
    accounts they are all of, None for every account)."""

    upto: int
    parts: list[tuple[pa.Table, pa.Table, pa.Array | None]]


def _as_array(ids: Any) -> pa.Array:
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    return ids.cast(pa.string())


class AccountTable:
    """Slots of accounts and their state as of one ledger position (``seq``)."""

    def __init__(self, ids: pa.Array, policy: Policy) -> None:
        """Slots for ``ids`` (distinct account ids), every one unknown to the ledger so far."""
        self._policy = policy
        self.purposes = tuple(policy.purposes)
        self._purpose_index = {p: i for i, p in enumerate(self.purposes)}
        self.ids = _as_array(ids)
        keys = hash_ids(self.ids)
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]
        n = len(self.ids)
        self.status = np.full(n, NONE, dtype=np.int8)  # index in STATUSES; NONE: not in ledger
        self.protected = np.zeros(n, dtype=np.bool_)
        self.birth = np.full(n, NO_BIRTH, dtype=np.int32)
        self.country = np.full(n, NONE, dtype=np.int16)
        self.countries: list[str] = []
        self._country_index: dict[str, int] = {}
        self.consent = np.full((len(self.purposes), len(SCOPES), n), NONE, dtype=np.int8)
        #: Per purpose, item scope (``ITEM_SCOPES``) and slot: the reason the account alone
        #: gives (its own rules and its consent) as of ``on``; refreshed with the state.
        self.reason = np.zeros((len(self.purposes), len(ITEM_SCOPES), n), dtype=np.int8)
        self.on = _today()
        self.seq = 0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        arrays = (self._keys, self._order, self.status, self.protected, self.birth, self.country)
        extra = self.consent.nbytes + self.reason.nbytes + self.ids.nbytes
        return int(sum(a.nbytes for a in arrays) + extra)

    def purpose_index(self, purpose: str) -> int:
        return self._purpose_index[purpose]

    def lookup(self, ids: Any) -> tuple[I64, Mask]:
        """Slot of each id, and whether the id has one (slot 0 where not)."""
        ids = _as_array(ids)
        n = len(ids)
        if len(self._keys) == 0 or n == 0:
            return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)
        keys = hash_ids(ids)
        pos = np.searchsorted(self._keys, keys)
        pos[pos >= len(self._keys)] = 0
        candidate = self._keys[pos] == keys
        slot = self._order[pos].astype(np.int64)
        same = pc.fill_null(pc.equal(self.ids.take(pa.array(slot)), ids), False)
        found = candidate & same.to_numpy(zero_copy_only=False)
        return np.where(found, slot, 0), found

    def add(self, ids: Any) -> I64:
        """Slots for ``ids``: existing ones where known, new (unknown to the ledger) otherwise.
        The caller fills the new slots' state (``refresh``)."""
        ids = _as_array(pc.unique(_as_array(ids)))
        _, found = self.lookup(ids)
        fresh = ids.filter(pa.array(~found))
        if len(fresh):
            start = len(self.ids)
            self.ids = pa.concat_arrays([self.ids, fresh])
            keys = np.concatenate([self._keys, hash_ids(fresh)])
            order = np.concatenate([self._order, np.arange(start, len(self.ids))])
            by_key = np.argsort(keys, kind="stable")
            self._keys, self._order = keys[by_key], order[by_key]
            m = len(fresh)
            self.status = np.concatenate([self.status, np.full(m, NONE, np.int8)])
            self.protected = np.concatenate([self.protected, np.zeros(m, np.bool_)])
            self.birth = np.concatenate([self.birth, np.full(m, NO_BIRTH, np.int32)])
            self.country = np.concatenate([self.country, np.full(m, NONE, np.int16)])
            extra = np.full((len(self.purposes), len(SCOPES), m), NONE, dtype=np.int8)
            self.consent = np.concatenate([self.consent, extra], axis=2)
            blank = np.zeros((len(self.purposes), len(ITEM_SCOPES), m), dtype=np.int8)
            self.reason = np.concatenate([self.reason, blank], axis=2)
            self._recompute(np.arange(start, len(self.ids)), self.on)
        out, _ = self.lookup(ids)
        return out

    def _country_code(self, values: pa.Array) -> npt.NDArray[np.int16]:
        texts = values.to_pylist()
        out = np.full(len(texts), NONE, dtype=np.int16)
        for i, text in enumerate(texts):
            if text is None:
                continue
            code = self._country_index.get(text)
            if code is None:
                code = self._country_index[text] = len(self.countries)
                self.countries.append(text)
            out[i] = code
        return out

    # ---- filling state from the ledger -----------------------------------------------------------

    def fetch(self, ledger: LedgerStore, upto: int, accounts: pa.Array | None = None) -> Fetched:
        """The ledger's entries up to ``upto`` of ``accounts`` (every one when None), read
        without touching this table (``apply`` then folds them in, quickly, under a lock)."""
        if accounts is None:
            return Fetched(
                upto,
                [
                    (
                        ledger.query_arrow(_ACCOUNT_SQL, (upto,)),
                        ledger.query_arrow(_CONSENT_SQL, (upto,)),
                        None,
                    )
                ],
            )
        wanted = _as_array(accounts)
        _, found = self.lookup(wanted)
        wanted = wanted.filter(pa.array(found))
        parts: list[tuple[pa.Table, pa.Table, pa.Array | None]] = []
        for start in range(0, len(wanted), _IN_LIST):
            part = wanted.slice(start, _IN_LIST).to_pylist()
            where = f" AND account_id IN ({', '.join('?' for _ in part)})"
            params = (upto, *part)
            parts.append(
                (
                    ledger.query_arrow(_ACCOUNT_SQL + where, params),
                    ledger.query_arrow(_CONSENT_SQL + where, params),
                    pa.array(part, pa.string()),
                )
            )
        return Fetched(upto, parts)

    def apply(self, fetched: Fetched) -> None:
        """Fold what ``fetch`` read: each account's entries are folded again, never patched."""
        for account_rows, consent_rows, reset in fetched.parts:
            if reset is None:
                self._apply(account_rows, consent_rows, None)
                self._recompute(np.arange(len(self.ids)), self.on)
            else:
                self._apply(account_rows, consent_rows, reset)
                slot, found = self.lookup(reset)
                self._recompute(slot[found], self.on)
        self.seq = max(self.seq, fetched.upto)

    def roll_over(self, on: date) -> None:
        """Ages are computed at ``on`` from now on (the date changed): every account again."""
        if on != self.on:
            self.on = on
            self._recompute(np.arange(len(self.ids)), on)

    # ---- verdicts ------------------------------------------------------------------------------

    def reasons_of(
        self, policy: Policy, purpose: str, scope: npt.NDArray[np.int64], slot: I64, on: date
    ) -> npt.NDArray[np.int8]:
        """The account part of the verdict of items of ``scope`` (``ITEM_SCOPES`` index) by
        ``slot``: cached for ``self.on``, computed for another date."""
        p = self._purpose_index[purpose]
        if on == self.on:
            out: npt.NDArray[np.int8] = self.reason[p, scope, slot]
            return out
        return self._account_verdicts(policy, purpose, scope, slot, on)

    def _recompute(self, slot: I64, on: date) -> None:
        policy = self._policy
        if len(slot) == 0:
            return
        for purpose, p in self._purpose_index.items():
            for s in range(len(ITEM_SCOPES)):
                scope = np.full(len(slot), s, dtype=np.int64)
                self.reason[p, s, slot] = self._account_verdicts(policy, purpose, scope, slot, on)

    def _account_verdicts(
        self, policy: Policy, purpose: str, scope: npt.NDArray[np.int64], slot: I64, on: date
    ) -> npt.NDArray[np.int8]:
        """``policy.verdicts`` for the accounts at ``slot``, each with a neutral item of
        ``scope`` (an assistant prompt, or a public post: kind, visibility and deletion
        excluding nothing). The rules look either at the item or at its author and the
        author's consent, never at both: an item's verdict is then the first of the reason
        its author gives and the reason its own fields give (``AnswerIndex``)."""
        n = len(slot)
        p = self._purpose_index[purpose]
        status = self.status[slot]
        known = status != NONE
        birth = self.birth[slot]
        country = self.country[slot]
        consent = self.consent[p, np.asarray(ITEM_SCOPE_CODES)[scope], slot]
        kind = np.where(scope == ITEM_SCOPES.index(Scope.ASSISTANT), 1, 0)
        countries = pa.array(self.countries or [""], pa.string())
        frame = pa.table(
            {
                "kind": pa.DictionaryArray.from_arrays(
                    pa.array(kind, pa.int32()), _NEUTRAL_KINDS
                ).cast(pa.string()),
                "visibility": pa.array([Visibility.PUBLIC.value] * n, pa.string()),
                "deleted": pa.array(np.zeros(n, dtype=np.bool_)),
                "account_known": pa.array(known),
                "status": pa.DictionaryArray.from_arrays(
                    pa.array(np.maximum(status, 0).astype(np.int32), mask=~known),
                    pa.array(STATUSES),
                ).cast(pa.string()),
                "protected": pa.array(self.protected[slot] & known),
                "birth_date": pa.array(birth, pa.int32(), mask=(birth == NO_BIRTH) | ~known).cast(
                    pa.date32()
                ),
                "country": pa.DictionaryArray.from_arrays(
                    pa.array(
                        np.maximum(country, 0).astype(np.int32), mask=(country == NONE) | ~known
                    ),
                    countries,
                ).cast(pa.string()),
                "consent": pa.array(consent, pa.int8(), mask=(consent == NONE) | ~known),
                "share": pa.nulls(n, pa.int8()),
            },
            schema=FRAME_SCHEMA,
        )
        return verdicts(frame, policy, purpose, recipient=False, on=on)

    def load(self, ledger: LedgerStore, upto: int, accounts: pa.Array | None = None) -> None:
        self.apply(self.fetch(ledger, upto, accounts))

    def _apply(
        self, account_rows: pa.Table, consent_rows: pa.Table, reset: pa.Array | None
    ) -> None:
        if reset is not None:
            # Accounts whose entries were read: whatever they held before is folded again.
            slot, found = self.lookup(reset)
            slot = slot[found]
            self.status[slot] = NONE
            self.protected[slot] = False
            self.birth[slot] = NO_BIRTH
            self.country[slot] = NONE
            self.consent[:, :, slot] = NONE
        states = fold_account_states(account_rows if account_rows.num_rows else None)
        if states.num_rows:
            slot, found = self.lookup(states["account_id"])
            states = states.filter(pa.array(found))
            slot = slot[found]
            status = pc.index_in(states["status"], value_set=pa.array(STATUSES))
            self.status[slot] = pc.fill_null(status, NONE).to_numpy(zero_copy_only=False)
            self.protected[slot] = pc.fill_null(states["protected"], False).to_numpy(
                zero_copy_only=False
            )
            birth = pc.fill_null(states["birth_date"].cast(pa.int32()), int(NO_BIRTH))
            self.birth[slot] = birth.to_numpy(zero_copy_only=False)
            self.country[slot] = self._country_code(states["country"].combine_chunks())
        rows = consent_rows if consent_rows.num_rows else CONSENT_ROWS_SCHEMA.empty_table()
        rows = rows.filter(pc.is_in(rows["purpose"], value_set=pa.array(list(self.purposes))))
        decided = fold_consent_state(rows, None)
        if decided.num_rows:
            slot, found = self.lookup(decided["account_id"])
            decided = decided.filter(pa.array(found))
            slot = slot[found]
            purpose = pc.index_in(decided["purpose"], value_set=pa.array(list(self.purposes)))
            scope = pc.index_in(decided["scope"], value_set=pa.array([s.value for s in SCOPES]))
            self.consent[
                purpose.to_numpy(zero_copy_only=False).astype(np.int64),
                scope.to_numpy(zero_copy_only=False).astype(np.int64),
                slot,
            ] = decided["decision"].to_numpy(zero_copy_only=False).astype(np.int8)
