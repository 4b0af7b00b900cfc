"""The Merkle root of a snapshot's shards, on every core: what a licensee's ``sync`` checks
before it publishes a download, and what a copy's attestation states after deletions.

Reading a shard's two columns (Arrow) and hashing its leaves and nodes (``consentry._sha256``)
both run without the GIL, so threads hash shards side by side: each turns its shard into
``merkle.Pieces`` (the roots of its whole 65,536-leaf blocks, and the loose leaves at its two
ends), and the caller folds the pieces in shard order.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import pyarrow.parquet as pq

from consentry.cores import every_core
from consentry.snapshot.manifest import LEAF_BATCH, leaf_hashes
from consentry.snapshot.merkle import Pieces, PiecesBuilder, StreamingRoot
from consentry.snapshot.writer import ShardInfo


def shard_pieces(path: str, start: int) -> Pieces:
    """The pieces of one shard whose first record is leaf ``start`` of the tree, its records
    read a batch at a time (a thread holds one batch and one unfinished block)."""
    builder = PiecesBuilder(start)
    with pq.ParquetFile(path) as shard:
        for batch in shard.iter_batches(LEAF_BATCH, columns=["record_id", "consent_entry"]):
            builder.add(leaf_hashes(batch.column(0), batch.column(1)))
    return builder.finish()


class ShardRoots:
    """The root of shards added in Merkle order, hashed by ``workers`` threads (default:
    every core). A shard may be added as soon as its file is whole: a download hashes the
    shards it has while it fetches the next."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = every_core() if workers is None else max(1, workers)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="merkle")
        self._submitted: list[Future[Pieces]] = []  # in shard order, not yet folded
        self._tree = StreamingRoot()
        self._added = 0

    def add(self, path: Path) -> None:
        # The footer's row count places the shard in the tree; the worker's leaves must agree.
        rows = pq.ParquetFile(path).metadata.num_rows
        self._submitted.append(self._pool.submit(shard_pieces, str(path), self._added))
        self._added += rows
        # The shards hashed so far folded now: their loose leaves are not kept to the end.
        while self._submitted and self._submitted[0].done():
            self._tree.add_pieces(self._submitted.pop(0).result())

    def root(self) -> tuple[str, int]:
        """The root (hex) and the number of leaves of every shard added."""
        tree = self._tree
        while self._submitted:
            tree.add_pieces(self._submitted.pop(0).result())
        if tree.count != self._added:
            raise ValueError(f"{tree.count} leaves in shards whose footers count {self._added}")
        return tree.root().hex(), tree.count

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ShardRoots:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def merkle_root(
    folder: Path, shards: Sequence[ShardInfo], workers: int | None = None
) -> tuple[str, int]:
    """The root (hex) and leaf count of the snapshot in ``folder`` over ``shards``."""
    with ShardRoots(workers) as roots:
        for shard in shards:
            roots.add(folder / shard.path)
        return roots.root()
