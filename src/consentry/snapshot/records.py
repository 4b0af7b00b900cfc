"""Pass 2 of a build: turn the included items of a batch into snapshot records.

Authors and ids become per-recipient pseudonyms, text is scrubbed of personal data, times are
coarsened, and references (reply, quote, repost) point to a record only when that record is in
the snapshot. A repost keeps no text: its words are its original's, present as its own record.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.masks import is_valid
from consentry.model import ContentKind, Reason
from consentry.snapshot.arrays import contains
from consentry.snapshot.census import NO_ENTRY, content_keys

RECORD_SCHEMA: Final = pa.schema(
    [
        ("record_id", pa.string()),
        ("author", pa.string()),
        ("kind", pa.string()),
        ("lang", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("text", pa.string()),
        ("in_reply_to", pa.string()),
        ("quote_of", pa.string()),
        ("repost_of", pa.string()),
        ("conversation_id", pa.string()),
        ("pii", pa.list_(pa.string())),
        ("consent_entry", pa.int64()),
    ]
)
#: The record columns whose values are mostly distinct (``ShardWriter``'s ``distinct``).
DISTINCT_RECORD_COLUMNS: Final = (
    "record_id",
    "text",
    "in_reply_to",
    "quote_of",
    "repost_of",
    "conversation_id",
)
RECORD_COLUMNS: Final = (
    "content_id",
    "author_id",
    "kind",
    "lang",
    "created_at",
    "text",
    "in_reply_to",
    "quote_of",
    "repost_of",
    "conversation_id",
)

INTERACTION_SCHEMA: Final = pa.schema(
    [
        ("account", pa.string()),
        ("record_id", pa.string()),
        ("kind", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("consent_entry", pa.int64()),
    ]
)


class Pseudonyms(Protocol):
    """Keyed, per-recipient pseudonyms of string arrays (see ``consentry.scrub``); nulls stay
    null."""

    def accounts(self, ids: Any) -> Any: ...

    def contents(self, ids: Any) -> Any: ...


class Scrubber(Protocol):
    def __call__(self, texts: Any) -> tuple[Any, Any]:
        """Scrubbed texts and, per row, the list of replaced PII types."""
        ...


@dataclass(frozen=True, slots=True)
class RecordMaker:
    pseudonyms: Pseudonyms
    scrub: Scrubber
    granularity: str  # "day", "hour" or "second"

    def prepare(self) -> None:
        """Make now what records need (a scrubber's index of every handle, if it makes it
        lazily), before pass 2 holds anything else: its transients then do not add to the
        first chunk's."""
        prepare = getattr(self.scrub, "prepare", None)
        if prepare is not None:
            prepare()

    def coarsen(self, times: Any) -> Any:
        if self.granularity == "second":
            return pc.floor_temporal(times, unit="second")
        return pc.floor_temporal(times, unit=self.granularity)

    def _content_pseudonyms(self, columns: list[Any]) -> list[Any]:
        """Pseudonyms of several columns of content ids, as single arrays."""
        out: list[Any] = []
        for column in columns:
            array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            result = self.pseudonyms.contents(array.cast(pa.string()))
            out.append(result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result)
        return out

    def make(
        self, rows: Any, entries: npt.NDArray[np.int64], parents: npt.NDArray[np.bool_]
    ) -> tuple[pa.RecordBatch, Counter[str]]:
        """Records of included items (``rows``: a table or batch of ``RECORD_COLUMNS``);
        ``parents``: per row, whether what it points to (``in_reply_to``, ``quote_of``,
        ``repost_of``: ``Census.parents_included``) is in the snapshot too.

        Scrubbing and pseudonymising cost a few milliseconds per call whatever the size, so the
        builder gathers included rows from many input batches before calling this."""
        if rows.num_rows == 0:
            return _empty(), Counter()
        if isinstance(rows, pa.Table):
            rows = rows.combine_chunks().to_batches()[0]
        is_repost = pc.equal(rows.column("kind"), ContentKind.REPOST.value)
        own_text = pc.if_else(is_repost, None, rows.column("text"))
        texts, pii = self.scrub(own_text)
        counts: Counter[str] = Counter(pc.list_flatten(pii).to_pylist()) if len(pii) else Counter()
        entry = pa.array(entries)
        record_id, in_reply_to, quote_of, repost_of, conversation_id = self._content_pseudonyms(
            [
                rows.column("content_id"),
                _in_snapshot(rows.column("in_reply_to"), parents[:, 0]),
                _in_snapshot(rows.column("quote_of"), parents[:, 1]),
                _in_snapshot(rows.column("repost_of"), parents[:, 2]),
                rows.column("conversation_id"),
            ]
        )
        record = pa.record_batch(
            {
                "record_id": record_id,
                "author": self.pseudonyms.accounts(rows.column("author_id")),
                "kind": rows.column("kind"),
                "lang": rows.column("lang"),
                "created_at": self.coarsen(rows.column("created_at")),
                "text": texts,
                "in_reply_to": in_reply_to,
                "quote_of": quote_of,
                "repost_of": repost_of,
                "conversation_id": conversation_id,
                "pii": pii,
                "consent_entry": pc.if_else(pc.equal(entry, NO_ENTRY), None, entry),
            },
            schema=RECORD_SCHEMA,
        )
        return record, counts

    def interactions(
        self,
        batch: pa.RecordBatch,
        reasons: npt.NDArray[np.int8],
        entries: npt.NDArray[np.int64],
        included_keys: npt.NDArray[np.uint64],
    ) -> pa.RecordBatch:
        """Interactions whose account may be used and whose content is in the snapshot."""
        ok = (reasons == Reason.ELIGIBLE) & contains(
            included_keys, content_keys(batch.column("content_id"))
        )
        keep = pa.array(np.nonzero(ok)[0])
        rows = batch.take(keep)
        entry = pa.array(entries[np.nonzero(ok)[0]])
        return pa.record_batch(
            {
                "account": self.pseudonyms.accounts(rows.column("account_id")),
                "record_id": self.pseudonyms.contents(rows.column("content_id")),
                "kind": rows.column("kind"),
                "at": self.coarsen(rows.column("at")),
                "consent_entry": pc.if_else(pc.equal(entry, NO_ENTRY), None, entry),
            },
            schema=INTERACTION_SCHEMA,
        )


def _in_snapshot(ids: Any, included: npt.NDArray[np.bool_]) -> Any:
    """``ids`` where the item is in the snapshot, null elsewhere (still ids, not pseudonyms)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    present = included & is_valid(ids)
    if not present.any():
        return pa.nulls(len(ids), pa.string())
    return pc.if_else(pa.array(present), ids, None)


def _empty() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=RECORD_SCHEMA)
