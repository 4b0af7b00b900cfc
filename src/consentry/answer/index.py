"""The answer index: every content item in 13 bytes, and the verdict of any of them in a call.

Per item: its content key (``hash_ids`` of the id, 8 bytes, sorted), its author's slot in the
``AccountTable`` (4 bytes) and flags (1 byte: kind, visibility, deleted). 100,000,000 items are
1.3 GB. A verdict is computed by the policy's own rules (``policy.verdicts``) over a frame
gathered from these arrays: the build and the assistant can never disagree on a rule, only on
the moment (the index follows the ledger head, a snapshot its manifest's position).

Ids are found by their 64-bit key alone (the ids themselves would cost ~20 bytes an item): two
ids of the index sharing a key are both answered ``unknown`` (excluded, never lent the other's
verdict); an id Consentry never saw matches an indexed one with probability about
items / 2**64.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from consentry.answer.accounts import ITEM_SCOPES, AccountTable
from consentry.content.buckets import hash_ids
from consentry.content.schema import ITEMS
from consentry.content.store import ContentStore, segment_name
from consentry.ledger import LedgerStore
from consentry.model import (
    ASSISTANT_KINDS,
    AccountStatus,
    ContentKind,
    Reason,
    Scope,
    Visibility,
)
from consentry.policy import Policy, verdicts
from consentry.policy.eligibility import FRAME_SCHEMA

#: The verdict of an id the index does not hold (never imported, or sharing a key).
UNKNOWN: Final = "unknown"
ELIGIBLE: Final = "eligible"
KINDS: Final = tuple(k.value for k in ContentKind)
VISIBILITIES: Final = tuple(v.value for v in Visibility)
#: Flag bits: kind (bits 0-2), visibility (3-4), deleted (5), key shared by two ids (6).
_VIS_SHIFT: Final = 3
DELETED: Final = np.uint8(1 << 5)
COLLIDED: Final = np.uint8(1 << 6)
_CLASS_BITS: Final = np.uint8(63)
#: ``ITEM_SCOPES`` index of each kind code (8 slots: 3 bits).
_ITEM_SCOPE_OF_KIND: Final = np.array(
    [
        ITEM_SCOPES.index(Scope.ASSISTANT)
        if i < len(KINDS) and ContentKind(KINDS[i]) in ASSISTANT_KINDS
        else ITEM_SCOPES.index(Scope.POSTS)
        for i in range(8)
    ],
    dtype=np.int64,
)
ITEM_COLUMNS: Final = (
    "content_id",
    "author_id",
    "kind",
    "visibility",
    "deleted_at",
    "repost_of",
)
_REPOST: Final = KINDS.index(ContentKind.REPOST.value)
#: Links followed from a repost to what it reposts (a repost of a repost …), as the census does.
MAX_REPOST_DEPTH: Final = 8

U64 = npt.NDArray[np.uint64]
Progress = Callable[[int], None]


def _flags(batch: pa.RecordBatch | pa.Table) -> npt.NDArray[np.uint8]:
    kind = pc.index_in(batch.column("kind"), value_set=pa.array(KINDS))
    vis = pc.index_in(batch.column("visibility"), value_set=pa.array(VISIBILITIES))
    k = pc.fill_null(kind, 0).to_numpy(zero_copy_only=False).astype(np.uint8)
    v = pc.fill_null(vis, len(VISIBILITIES) - 1).to_numpy(zero_copy_only=False).astype(np.uint8)
    deleted = pc.is_valid(batch.column("deleted_at")).to_numpy(zero_copy_only=False)
    out: npt.NDArray[np.uint8] = k | (v << np.uint8(_VIS_SHIFT)) | np.where(deleted, DELETED, 0)
    return out.astype(np.uint8)


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Answers for ids, in the order asked: ``codes[i]`` is ``eligible``, a reason code or
    ``unknown``; ``seq`` is the ledger position they hold as of."""

    ids: Sequence[str]
    codes: list[str]
    seq: int

    def eligible(self) -> list[str]:
        return [i for i, c in zip(self.ids, self.codes, strict=True) if c == ELIGIBLE]

    def to_json(self) -> dict[str, object]:
        return {
            "ledger_seq": self.seq,
            "verdicts": dict(zip(self.ids, self.codes, strict=False)),
        }


_CODE_NAMES: Final = [Reason(i).code if i else ELIGIBLE for i in range(len(Reason))]
#: The names by code, ``UNKNOWN`` last (the code of an id the index does not hold).
_NAMES: Final = np.array([*_CODE_NAMES, UNKNOWN], dtype=object)


class AnswerIndex:
    """Live verdicts for one policy, over a content store and a ledger (one per worker)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.keys: U64 = np.empty(0, dtype=np.uint64)
        self.author: npt.NDArray[np.uint32] = np.empty(0, dtype=np.uint32)
        self.flags: npt.NDArray[np.uint8] = np.empty(0, dtype=np.uint8)
        self.accounts = AccountTable(pa.array([], pa.string()), policy)
        self._item_cache: dict[str, npt.NDArray[np.int8]] = {}
        #: Reposts' keys (sorted) and the keys of what each reposts (0: it names none).
        self.repost_keys: U64 = np.empty(0, dtype=np.uint64)
        self.repost_of: U64 = np.empty(0, dtype=np.uint64)
        #: Imports of the content store already in the index.
        self.imports: frozenset[int] = frozenset()

    # ---- size ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def item_bytes(self) -> int:
        arrays = (self.keys, self.author, self.flags, self.repost_keys, self.repost_of)
        return sum(a.nbytes for a in arrays)

    @property
    def seq(self) -> int:
        return self.accounts.seq

    # ---- building ------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        store: ContentStore,
        ledger: LedgerStore,
        policy: Policy,
        *,
        progress: Progress | None = None,
    ) -> AnswerIndex:
        """The index of every current item of ``store``, with state as of the ledger's head.
        ``progress`` is called with the items read, bucket by bucket."""
        committed = store.committed()

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in store.scan(ITEM_COLUMNS, committed=committed):
                yield batch
                if progress:
                    progress(batch.num_rows)

        index = cls.from_batches(batches(), ledger, policy)
        index.imports = committed
        return index

    @classmethod
    def from_batches(
        cls, batches: Iterable[pa.RecordBatch | pa.Table], ledger: LedgerStore, policy: Policy
    ) -> AnswerIndex:
        """The index of items given as batches with ``ITEM_COLUMNS`` (one row per item), with
        state as of the ledger's head."""
        index = cls(policy)
        keys: list[U64] = []
        authors: list[pa.Array] = []
        flags: list[npt.NDArray[np.uint8]] = []
        reposts: list[tuple[U64, U64]] = []
        for batch in batches:
            keys.append(hash_ids(batch.column("content_id")))
            reposts.append(_reposts(batch, keys[-1]))
            column = batch.column("author_id")
            authors.append(
                column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            )
            flags.append(_flags(batch))
        author_ids = (
            pa.chunked_array(authors, pa.string()).combine_chunks()
            if authors
            else pa.array([], pa.string())
        )
        # Encoded once (a hash table in Arrow): the authors are looked up by their distinct
        # ids only, then spread by the codes; looking every item's author up was a fifth of
        # the start-up (1M items).
        encoded = pc.dictionary_encode(author_ids)
        index.accounts = AccountTable(encoded.dictionary, policy)
        distinct, _ = index.accounts.lookup(encoded.dictionary)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        slot = distinct[codes] if len(codes) else np.empty(0, np.int64)
        index._set_items(
            np.concatenate(keys) if keys else np.empty(0, np.uint64),
            slot.astype(np.uint32),
            np.concatenate(flags) if flags else np.empty(0, np.uint8),
        )
        index._add_reposts(reposts)
        index.accounts.load(ledger, ledger.head().seq)
        return index

    def _add_reposts(self, parts: list[tuple[U64, U64]]) -> None:
        """Remember what each repost reposts (keys, sorted by the repost's): only reposts pay
        for it (16 bytes each)."""
        own = np.concatenate([self.repost_keys, *(p[0] for p in parts)])
        of = np.concatenate([self.repost_of, *(p[1] for p in parts)])
        # A newer version of a repost replaces the older one: keep the last row of each key.
        order = np.argsort(own, kind="stable")
        own, of = own[order], of[order]
        last = np.ones(len(own), dtype=np.bool_)
        last[:-1] = own[:-1] != own[1:]
        self.repost_keys, self.repost_of = own[last], of[last]

    def _set_items(self, keys: U64, author: npt.NDArray[np.uint32], flags: Any) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys, self.author, self.flags = keys[order], author[order], flags[order]
        shared = np.zeros(len(self.keys), dtype=np.bool_)
        if len(self.keys) > 1:
            same = self.keys[1:] == self.keys[:-1]
            shared[1:] |= same
            shared[:-1] |= same
        self.flags[shared] |= COLLIDED

    # ---- keeping up ----------------------------------------------------------------------------

    def apply_ledger(self, ledger: LedgerStore, accounts: Iterable[str], upto: int) -> None:
        """The ledger moved to ``upto``, changing ``accounts``: fold their entries again."""
        ids = pa.array(sorted(set(accounts)), pa.string())
        if len(ids):
            self.accounts.load(ledger, upto, ids)
        self.accounts.seq = max(self.accounts.seq, upto)

    def apply_imports(self, store: ContentStore, ledger: LedgerStore) -> int:
        """Add what imports committed since the index was built (new items, new versions:
        a deletion, a visibility change); returns the items read. Only the new imports'
        segments are read: each holds the current version of the rows it wrote."""
        committed = store.committed()
        fresh = sorted(committed - self.imports)
        read = 0
        for seq in fresh:
            for bucket in range(store.buckets(ITEMS)):
                path = store.root / ITEMS.name / f"b{bucket:02d}" / segment_name(seq)
                if path.exists():
                    read += self._merge(pq.read_table(path, columns=list(ITEM_COLUMNS)), ledger)
        self.imports = self.imports | frozenset(fresh)
        return read

    def _merge(self, table: pa.Table, ledger: LedgerStore) -> int:
        if table.num_rows == 0:
            return 0
        before = len(self.accounts)
        slot = self.accounts.add(table["author_id"])
        if len(self.accounts) > before:
            self.accounts.load(ledger, self.accounts.seq, self.accounts.ids.slice(before))
        author, _ = self.accounts.lookup(table["author_id"])
        del slot
        keys = hash_ids(table["content_id"])
        flags = _flags(table)
        self._add_reposts([_reposts(table, keys)])
        pos, found = self._locate(keys)
        hit = np.nonzero(found)[0]
        collided = self.flags[pos[hit]] & COLLIDED
        self.author[pos[hit]] = author[hit].astype(np.uint32)
        self.flags[pos[hit]] = flags[hit] | collided
        new = np.nonzero(~found)[0]
        if len(new):
            self._set_items(
                np.concatenate([self.keys, keys[new]]),
                np.concatenate([self.author, author[new].astype(np.uint32)]),
                np.concatenate([self.flags & ~COLLIDED, flags[new]]),
            )
        return int(table.num_rows)

    # ---- asking --------------------------------------------------------------------------------

    def _locate(self, keys: U64) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        if len(self.keys) == 0:
            return np.zeros(len(keys), np.int64), np.zeros(len(keys), np.bool_)
        # Searched in ascending order: each search starts near where the previous one ended,
        # and the index's memory is walked forwards (measured ~2x at 1M items).
        order = np.argsort(keys)
        pos = np.empty(len(keys), dtype=np.int64)
        pos[order] = np.searchsorted(self.keys, keys[order])
        pos[pos >= len(self.keys)] = 0
        return pos, self.keys[pos] == keys

    def reasons(
        self, ids: Sequence[str] | pa.Array, purpose: str, *, on: date | None = None
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
        """Reason code of each id (``Reason``), and whether the index holds it at all.

        The first reason that applies of the author's (``AccountTable.reasons_of``) and of the
        item's own fields (``item_reasons``): no rule looks at both, so this is what the
        policy's rules give on the whole frame (a property the tests check)."""
        self.policy.require_purpose(purpose)
        arr = ids if isinstance(ids, pa.Array) else pa.array(list(ids), pa.string())
        return self._reasons_of_keys(hash_ids(arr), purpose, on or self.accounts.on, 0)

    def _reasons_of_keys(
        self, keys: U64, purpose: str, on: date, depth: int
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
        pos, found = self._locate(keys)
        flags = self.flags[pos]
        found &= (flags & COLLIDED) == 0
        if len(self.accounts) == 0:
            return np.zeros(len(pos), np.int8), np.zeros(len(pos), np.bool_)
        scope = _ITEM_SCOPE_OF_KIND[flags & 7]
        slot = self.author[pos].astype(np.int64)
        by_author = self.accounts.reasons_of(self.policy, purpose, scope, slot, on)
        by_item = self._item_reasons(purpose)[flags & _CLASS_BITS]
        out = np.where(
            by_author == 0,
            by_item,
            np.where(by_item == 0, by_author, np.minimum(by_author, by_item)),
        ).astype(np.int8)
        # A repost carries someone else's words: an otherwise eligible one takes the verdict
        # of what it reposts (``original_unavailable`` when that is not here), as in a build.
        reposts = np.nonzero(found & (out == Reason.ELIGIBLE) & ((flags & 7) == _REPOST))[0]
        if len(reposts):
            out[reposts] = self._original_reasons(keys[reposts], purpose, on, depth)
        return out, found

    def _original_reasons(
        self, keys: U64, purpose: str, on: date, depth: int
    ) -> npt.NDArray[np.int8]:
        unavailable = np.full(len(keys), Reason.ORIGINAL_UNAVAILABLE, dtype=np.int8)
        if len(self.repost_keys) == 0 or depth >= MAX_REPOST_DEPTH:
            return unavailable
        at = np.searchsorted(self.repost_keys, keys)
        at[at >= len(self.repost_keys)] = 0
        named = self.repost_keys[at] == keys
        original = np.where(named, self.repost_of[at], 0).astype(np.uint64)
        reason, found = self._reasons_of_keys(original, purpose, on, depth + 1)
        return np.where(named & found & (original != 0), reason, unavailable).astype(np.int8)

    def _item_reasons(self, purpose: str) -> npt.NDArray[np.int8]:
        cached = self._item_cache.get(purpose)
        if cached is None:
            cached = self._item_cache[purpose] = item_reasons(self.policy, purpose)
        return cached

    def verdicts(self, ids: Sequence[str], purpose: str, *, on: date | None = None) -> Verdicts:
        """``eligible``, the one reason code, or ``unknown``, for each of ``ids``."""
        reason, found = self.reasons(ids, purpose, on=on)
        # One gather of the names (no Python per id): profiled at 1,000 ids, the comprehension
        # it replaces was a quarter of the call.
        code = np.where(found, reason.astype(np.int64), len(_CODE_NAMES))
        return Verdicts(
            ids if isinstance(ids, list) else list(ids), _NAMES[code].tolist(), self.seq
        )


def _reposts(batch: pa.RecordBatch | pa.Table, keys: U64) -> tuple[U64, U64]:
    """(keys of the reposts among ``batch``'s rows, keys of what they repost; 0: none named)."""
    is_repost = pc.fill_null(pc.equal(batch.column("kind"), ContentKind.REPOST.value), False)
    rows = np.nonzero(is_repost.to_numpy(zero_copy_only=False))[0]
    if len(rows) == 0 or "repost_of" not in batch.column_names:
        empty = np.empty(0, dtype=np.uint64)
        return (keys[rows], np.zeros(len(rows), np.uint64)) if len(rows) else (empty, empty)
    of = batch.column("repost_of").take(pa.array(rows)).cast(pa.string())
    original = hash_ids(of)
    original[pc.is_null(of).to_numpy(zero_copy_only=False)] = 0
    return keys[rows], original


def item_reasons(policy: Policy, purpose: str) -> npt.NDArray[np.int8]:
    """The reason each class of item (flag bits 0-5: kind, visibility, deleted) gives by its
    own fields: ``policy.verdicts`` with a neutral author (known, active, adult, public,
    granting)."""
    codes = np.arange(_CLASS_BITS + 1, dtype=np.uint8)
    kind = (codes & 7).astype(np.int64)
    vis = ((codes >> np.uint8(_VIS_SHIFT)) & 3).astype(np.int64)
    valid = kind < len(KINDS)
    kind = np.where(valid, kind, 0)
    n = len(codes)
    frame = pa.table(
        {
            "kind": pa.array([KINDS[k] for k in kind], pa.string()),
            "visibility": pa.array([VISIBILITIES[v] for v in vis], pa.string()),
            "deleted": pa.array((codes & DELETED) != 0),
            "account_known": pa.array(np.ones(n, dtype=np.bool_)),
            "status": pa.array([AccountStatus.ACTIVE.value] * n, pa.string()),
            "protected": pa.array(np.zeros(n, dtype=np.bool_)),
            "birth_date": pa.array([date(1900, 1, 1)] * n, pa.date32()),
            "country": pa.nulls(n, pa.string()),
            "consent": pa.array(np.ones(n, dtype=np.int8)),
            "share": pa.array(np.ones(n, dtype=np.int8)),
        },
        schema=FRAME_SCHEMA,
    )
    out = verdicts(frame, policy, purpose, recipient=False, on=date(2000, 1, 1))
    return out.astype(np.int8)
