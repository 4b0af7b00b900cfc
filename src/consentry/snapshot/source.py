"""The seam between the snapshot builder and where content lives.

The workspace's content store implements it; ``MemorySource`` is the in-process implementation
that tests (and property tests over random platforms) build snapshots from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

#: Columns the builder reads from content (canonical names, docs/canonical-format.md).
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

    def buckets(self, batch_size: int) -> int:
        """How many content buckets ``scan`` walks, one after the other (the build's unit of
        work)."""
        ...

    def scan_bucket(
        self, bucket: int, columns: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        """The rows ``scan`` yields for one bucket, in the same order."""
        ...

    def accounts(self) -> pa.Table:
        """``id`` and ``handle`` of every known account (for mentions)."""
        ...

    def account_parts(self) -> Iterator[pa.Table]:
        """``accounts()``'s rows, in the same order, a part at a time (a bucket of the store)."""
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

    def buckets(self, batch_size: int) -> int:
        # Content in memory has no buckets of its own: a bucket per batch, so that a build cuts
        # shards where it always did (at batch edges).
        return -(-int(self.content.num_rows) // batch_size)

    def scan_bucket(
        self, bucket: int, columns: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        rows = self.content.slice(bucket * batch_size, batch_size).select(list(columns))
        yield from rows.to_batches(max_chunksize=batch_size)

    def scan_interactions(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        if self.interactions is not None:
            yield from self.interactions.select(list(INTERACTION_COLUMNS)).to_batches(
                max_chunksize=batch_size
            )

    def accounts(self) -> pa.Table:
        return self._accounts

    def account_parts(self) -> Iterator[pa.Table]:
        yield self._accounts

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


class WorkspaceSource:
    """A workspace's content store, pinned to the imports committed when the build started, so
    that both passes of a build (and its verification) read exactly the same content even while
    another import commits."""

    def __init__(self, content_dir: Path) -> None:
        from consentry.content.store import ContentStore

        self.store = ContentStore(content_dir)
        self.imports = list(self.store.imports())
        self.committed = frozenset(i.seq for i in self.imports)

    def _scan(self, spec: Any, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        for bucket in range(self.store.buckets(spec)):
            yield from self._scan_bucket(spec, bucket, columns, batch_size)

    def _scan_bucket(
        self, spec: Any, bucket: int, columns: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        segments = self.store.segments(spec, bucket, self.committed)
        if len(segments) == 1:
            # One segment holds one row per key, as it is: stream it. A whole bucket in
            # memory grows with the platform (156k rows a bucket at 10M items).
            yield from _stream(segments[0], columns, batch_size)
            return
        table = self.store.current(spec, bucket, columns, committed=self.committed)
        yield from table.to_batches(max_chunksize=batch_size)

    def buckets(self, batch_size: int) -> int:
        from consentry.content.schema import ITEMS

        return self.store.buckets(ITEMS)

    def scan_bucket(
        self, bucket: int, columns: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        from consentry.content.schema import ITEMS

        return self._scan_bucket(ITEMS, bucket, columns, batch_size)

    def scan(self, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        from consentry.content.schema import ITEMS

        return self._scan(ITEMS, columns, batch_size)

    def scan_interactions(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        from consentry.content.schema import INTERACTIONS

        return self._scan(INTERACTIONS, INTERACTION_COLUMNS, batch_size)

    def accounts(self) -> pa.Table:
        table = self.store.accounts(("account_id", "handle"))
        return table.rename_columns(["id", "handle"])

    def account_parts(self) -> Iterator[pa.Table]:
        from consentry.content.schema import ACCOUNTS

        for bucket in range(self.store.buckets(ACCOUNTS)):
            table = self.store.current(
                ACCOUNTS, bucket, ("account_id", "handle"), committed=self.committed
            )
            yield table.rename_columns(["id", "handle"])

    def count(self) -> int:
        if not self.imports:
            return 0
        return int(sum(self.imports[-1].totals.get("items", {}).get("rows", [])))

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for info in self.imports:
            digest.update(f"{info.seq}\x00{info.id}\x00{info.committed_at}\n".encode())
        return digest.hexdigest()


def _stream(path: Path, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
    """``pq.read_table(path, columns)``'s rows, in order, a batch at a time."""
    with pq.ParquetFile(path) as segment:
        # One thread: decoding a batch's columns in parallel kept buffers per thread alive and
        # cost no less CPU on these 2-core machines (at 10M items: peak ~75 MB lower, CPU the
        # same or lower; the other core is busy with the rest of the build anyway).
        batches = segment.iter_batches(
            batch_size=batch_size, columns=list(columns), use_threads=False
        )
        for batch in batches:
            if batch.num_rows:
                yield batch
