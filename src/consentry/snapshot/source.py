"""The seam between the snapshot builder and where content lives.

The workspace's content store implements it; ``MemorySource`` is the in-process implementation
that tests (and property tests over random platforms) build snapshots from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Final, Protocol

import pyarrow as pa

#: Columns the builder reads from content (canonical names, DESIGN.md).
CONTENT_COLUMNS: Final = (
    "content_id",
    "author_id",
    "kind",
    "text",
    "created_at",
    "lang",
    "visibility",
    "in_reply_to",
    "quote_of",
    "repost_of",
    "conversation_id",
    "deleted_at",
)
INTERACTION_COLUMNS: Final = ("account_id", "content_id", "kind", "at")


class ContentSource(Protocol):
    def scan(self, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        """The current version of every content item (deleted ones too), always in the same
        order for the same stored content."""
        ...

    def scan_interactions(self, batch_size: int) -> Iterator[pa.RecordBatch]: ...

    def accounts(self) -> pa.Table:
        """``id`` and ``handle`` of every known account (for mentions)."""
        ...

    def count(self) -> int:
        """Number of content items ``scan`` yields."""
        ...

    def fingerprint(self) -> str:
        """Changes whenever stored content changes: names the input of a build."""
        ...


class MemorySource:
    """Content held in Arrow tables."""

    def __init__(
        self,
        content: pa.Table,
        *,
        accounts: pa.Table | None = None,
        interactions: pa.Table | None = None,
    ) -> None:
        self.content = content
        self._accounts = (
            accounts
            if accounts is not None
            else pa.table({"id": pa.array([], pa.string()), "handle": pa.array([], pa.string())})
        )
        self.interactions = interactions

    def scan(self, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        yield from self.content.select(list(columns)).to_batches(max_chunksize=batch_size)

    def scan_interactions(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        if self.interactions is not None:
            yield from self.interactions.select(list(INTERACTION_COLUMNS)).to_batches(
                max_chunksize=batch_size
            )

    def accounts(self) -> pa.Table:
        return self._accounts

    def count(self) -> int:
        return int(self.content.num_rows)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for table in (self.content, self._accounts, self.interactions):
            if table is not None:
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, table.schema) as writer:
                    writer.write_table(table)
                digest.update(sink.getvalue().to_pybytes())
        return digest.hexdigest()
