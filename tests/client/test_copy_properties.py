"""Hypothesis: whatever records a batch of events names, the local copy afterwards holds
exactly the others (set difference as the oracle), its manifest verifies, and the attestation
root is the RFC 6962 root over the remaining leaves sorted by record id (computed here leaf by
leaf, not by the code under test)."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.client.copy import Removal, apply_deletions, attestation
from consentry.snapshot.manifest import MANIFEST_NAME, Manifest, leaf_data
from consentry.snapshot.merkle import leaf_hash, root_of
from consentry.snapshot.roots import merkle_root
from consentry.snapshot.writer import file_sha256


def _snapshot(folder: Path, shards: list[list[int]]) -> None:
    (folder / "data").mkdir(parents=True)
    infos = []
    for n, rows in enumerate(shards):
        table = pa.table(
            {
                "record_id": pa.array([f"c_{i:04d}" for i in rows], pa.string()),
                "text": pa.array([f"text {i}" for i in rows], pa.string()),
                "consent_entry": pa.array([i if i % 3 else None for i in rows], pa.int64()),
            }
        )
        path = f"data/part-{n:05d}.parquet"
        pq.write_table(table, folder / path)
        infos.append(
            {"path": path, "rows": len(rows), "bytes": 0, "sha256": file_sha256(folder / path)}
        )
    m = Manifest(
        snapshot_id="snap_x", created="2024-01-01T00:00:00+00:00", purpose="train",
        recipient="acme", ledger={"seq": 1, "head": "00" * 32},
        policy={"source": "p", "version": "1", "sha256": "00" * 32},
        counts={"input": 0, "included": sum(map(len, shards)), "excluded": {}},
        shards=infos, interactions=[], merkle={}, record_columns=["record_id"],
    )  # fmt: skip
    root, leaves = merkle_root(folder, m.shard_infos())
    m.merkle = {"root": root, "leaves": leaves}
    (folder / MANIFEST_NAME).write_text(m.to_json())


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[list[int]], list[int]]:
    ids = draw(st.lists(st.integers(0, 500), min_size=1, max_size=60, unique=True))
    # In record_id order (the attestation reuses the manifest's root), in order within each
    # shard but not across them, or in no order (both sorted by the attestation).
    order = draw(st.sampled_from(["sorted", "shards reversed", "random"]))
    if order != "random":
        ids.sort()
    cuts = sorted(draw(st.lists(st.integers(0, len(ids)), max_size=3)))
    bounds = [0, *cuts, len(ids)]
    shards = [ids[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    if order == "shards reversed":
        shards.reverse()
    named = draw(st.lists(st.sampled_from([*ids, 9999]), max_size=30))
    return shards, named


@settings(max_examples=40, deadline=None)
@given(histories(), st.booleans())
def test_apply_removes_exactly_the_named_records(
    history: tuple[list[list[int]], list[int]], twice: bool
) -> None:
    shards, named = history
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "snap"
        _snapshot(folder, shards)
        removals = [
            Removal("data", f"c_{i:04d}", None, "consent_denied", n) for n, i in enumerate(named)
        ]
        apply_deletions(folder, removals)
        if twice:  # a rerun after a kill changes nothing
            before = {p.name: p.read_bytes() for p in (folder / "data").iterdir()}
            apply_deletions(folder, removals)
            assert before == {p.name: p.read_bytes() for p in (folder / "data").iterdir()}
        left = {i for s in shards for i in s} - set(named)
        held = pq.read_table(folder / "data").to_pydict()
        assert sorted(held["record_id"]) == sorted(f"c_{i:04d}" for i in left)
        m = json.loads((folder / MANIFEST_NAME).read_text())
        assert m["counts"]["included"] == len(left) == m["merkle"]["leaves"]
        for s in m["shards"]:
            assert hashlib.sha256((folder / s["path"]).read_bytes()).hexdigest() == s["sha256"]
        leaves = [
            leaf_hash(leaf_data(f"c_{i:04d}", i if i % 3 else None))
            for i in sorted(left, key=lambda i: f"c_{i:04d}")
        ]
        proof = attestation(folder, "snap_x")
        assert proof["merkle_root"] == root_of(leaves).hex() and proof["records"] == len(left)
        shutil.rmtree(folder)
