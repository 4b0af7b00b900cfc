"""The Merkle root of a snapshot's shards, on every core: what a licensee's ``sync`` checks
before it publishes a download, and what a copy's attestation states after deletions.

Two SHA-256 per record (its leaf, and its share of the nodes above) are nearly all the cost,
and hashlib computes one per call under the GIL: the shards are hashed in worker processes,
each turning its shard into ``merkle.Pieces`` (the roots of its whole 65,536-leaf blocks, and
the loose leaves at its two ends), and this process folds the pieces in shard order. The
workers start once there are two shards and enough records to repay their start.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Final

import pyarrow.parquet as pq

from consentry.cores import every_core
from consentry.snapshot.manifest import shard_leaves
from consentry.snapshot.merkle import Pieces, StreamingRoot, pieces
from consentry.snapshot.writer import ShardInfo


def shard_pieces(path: str, start: int) -> Pieces:
    """The pieces of one shard whose first record is leaf ``start`` of the tree."""
    return pieces(shard_leaves(Path(path)), start)


#: Records below which the shards are hashed here: a worker's start costs more than they do.
POOL_MIN_ROWS: Final = 1 << 18


class ShardRoots:
    """The root of shards added in Merkle order, hashed by ``workers`` processes (default:
    every core; 1: in this process). A shard may be added as soon as its file is whole: a
    download hashes the shards it has while it fetches the next."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = every_core() if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None
        self._submitted: list[Future[Pieces]] = []
        self._waiting: list[tuple[str, int]] = []  # not yet worth a worker
        self._added = 0

    def add(self, path: Path) -> None:
        # The footer's row count places the shard in the tree; the worker's leaves must agree.
        rows = pq.ParquetFile(path).metadata.num_rows
        self._waiting.append((str(path), self._added))
        self._added += rows
        if self._pool is None and (
            self.workers <= 1 or len(self._waiting) < 2 or self._added < POOL_MIN_ROWS
        ):
            return
        if self._pool is None:
            # forkserver: a clean interpreter per worker, nothing of this process copied.
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("forkserver")
            )
        self._submitted += [self._pool.submit(shard_pieces, *task) for task in self._waiting]
        self._waiting.clear()

    def root(self) -> tuple[str, int]:
        """The root (hex) and the number of leaves of every shard added."""
        tree = StreamingRoot()
        for future in self._submitted:
            tree.add_pieces(future.result())
        for task in self._waiting:
            tree.add_pieces(shard_pieces(*task))
        if tree.count != self._added:
            raise ValueError(f"{tree.count} leaves in shards whose footers count {self._added}")
        return tree.root().hex(), tree.count

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

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
