"""Mentions of platform accounts → the pseudonym their account gets in the ``author`` column.

Handles compare case-insensitively, as on X (``@Alice`` and ``@alice`` are one account). A
handle the platform does not know is nobody we can pseudonymise consistently: it becomes
``@<USER>``. If two accounts share a handle (a platform export taken while one was renamed),
the first pair given wins; both ways the handle itself is gone from the text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.hash_index import HashIndex
from consentry.scrub.pseudonym import Pseudonymiser


class MentionResolver:
    def __init__(
        self,
        handles: Sequence[str | None] | pa.Array | pa.ChunkedArray,
        account_ids: Sequence[str | None] | pa.Array | pa.ChunkedArray,
        pseudonymiser: Pseudonymiser,
    ) -> None:
        h = _as_string_array(handles)
        ids = _as_string_array(account_ids)
        if len(h) != len(ids):
            raise ValueError(f"{len(h)} handles but {len(ids)} account ids")
        valid = pc.and_(pc.is_valid(h), pc.is_valid(ids))
        h = pc.utf8_lower(pc.utf8_ltrim(h.filter(valid), characters="@\uff20"))
        ids = ids.filter(valid)
        # First occurrence of each handle: unique() keeps first-seen order, index_in finds it.
        distinct = pc.unique(h)
        first = pc.index_in(distinct, value_set=h).to_numpy().astype(np.int64)
        # Handles indexed once by hash: a batch is then a binary search, where ``index_in``
        # rebuilt a hash table of every handle for every batch (a cost growing with the
        # platform, not the batch). Positions below are the index's.
        self._handles = HashIndex(distinct)
        self._ids: pa.StringArray = ids.take(pa.array(first[self._handles.order], pa.int64()))
        self._pseudonymiser = pseudonymiser
        # Cache: for each handle, where its pseudonym is in ``_pseudonyms`` (-1: not yet).
        self._slot = np.full(len(distinct), -1, dtype=np.int64)
        self._pseudonyms: pa.StringArray = pa.array([], pa.string())

    @classmethod
    def from_table(
        cls,
        table: pa.Table,
        pseudonymiser: Pseudonymiser,
        *,
        handle_column: str = "handle",
        id_column: str = "id",
    ) -> MentionResolver:
        return cls(table.column(handle_column), table.column(id_column), pseudonymiser)

    def __len__(self) -> int:
        return len(self._handles)

    def __repr__(self) -> str:
        return f"MentionResolver({len(self)} handles, {self._pseudonymiser!r})"

    def account_ids(self, handles: pa.Array) -> pa.Array:
        """The account id of each handle (without ``@``), null where unknown."""
        idx = self._handles.find(pc.utf8_lower(handles))
        result: pa.Array = self._ids.take(pa.array(idx, pa.int64(), mask=idx < 0))
        return result

    def resolve(self, handles: pa.Array) -> pa.Array:
        """The account pseudonym of each handle (without ``@``), null where unknown.

        Pseudonyms are computed once per account for the resolver's life (a snapshot build):
        the same accounts are mentioned in batch after batch.
        """
        idx_np = self._handles.find(pc.utf8_lower(handles))
        known = idx_np >= 0
        if not known.any():  # (also: a resolver without handles has no slot to look at)
            return pa.nulls(len(idx_np), pa.string())
        wanted = np.unique(idx_np[known])
        missing = wanted[self._slot[wanted] < 0]
        if len(missing):
            fresh = self._pseudonymiser.accounts(self._ids.take(pa.array(missing, pa.int64())))
            first = len(self._pseudonyms)
            self._slot[missing] = np.arange(first, first + len(missing), dtype=np.int64)
            self._pseudonyms = pa.concat_arrays([self._pseudonyms, fresh])
        slots = np.where(known, self._slot[np.maximum(idx_np, 0)], 0)
        result: pa.Array = self._pseudonyms.take(pa.array(slots, pa.int64(), mask=~known))
        return result


def _as_string_array(values: Sequence[str | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), pa.string())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values
