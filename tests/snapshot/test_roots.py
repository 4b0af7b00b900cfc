"""The root of a snapshot's shards hashed by worker threads is the root one process computes
leaf by leaf (``StreamingRoot`` over every leaf, itself checked against RFC 6962 in
``tests/test_hashing.py``), whatever the shards' sizes and where they fall on the blocks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentry.snapshot.manifest import shard_leaves
from consentry.snapshot.merkle import BLOCK_HEIGHT, StreamingRoot
from consentry.snapshot.roots import ShardRoots

BLOCK = 1 << BLOCK_HEIGHT


def write_shards(folder: Path, sizes: list[int]) -> list[Path]:
    paths, start = [], 0
    for n, size in enumerate(sizes):
        ids = [f"c_{i:012d}" for i in range(start, start + size)]
        entries = [None if i % 7 == 0 else i for i in range(start, start + size)]
        path = folder / f"part-{n:05d}.parquet"
        pq.write_table(
            pa.table({"record_id": ids, "consent_entry": pa.array(entries, pa.int64())}), path
        )
        paths.append(path)
        start += size
    return paths


def one_process_root(paths: list[Path]) -> tuple[str, int]:
    tree = StreamingRoot()
    for path in paths:
        tree.add_leaves(shard_leaves(path))
    return tree.root().hex(), tree.count


@pytest.mark.parametrize(
    "sizes",
    [
        [BLOCK + 5, 3, 2 * BLOCK - 1, BLOCK],  # shards off the blocks, a tiny one, one on them
        [BLOCK, BLOCK, 0, 1],  # whole blocks, an empty shard
        [10, 20, 30],  # no whole block at all
    ],
)
@pytest.mark.parametrize("workers", [1, 2])
def test_workers_fold_to_the_one_process_root(
    tmp_path: Path, sizes: list[int], workers: int
) -> None:
    paths = write_shards(tmp_path, sizes)
    with ShardRoots(workers) as shard_roots:
        for path in paths:
            shard_roots.add(path)
        got = shard_roots.root()
    assert got == one_process_root(paths)
    assert got[1] == sum(sizes)


def test_a_shard_whose_footer_disagrees_is_refused(tmp_path: Path) -> None:
    (path,) = write_shards(tmp_path, [5])
    with ShardRoots(2) as shard_roots:
        shard_roots.add(path)
        shard_roots._added += 1  # as if the footer had counted one more row than is read
        with pytest.raises(ValueError, match="5 leaves in shards whose footers count 6"):
            shard_roots.root()
