"""A licensee's local copy of one snapshot, and the deletions applied to it.

``apply_deletions`` removes the records a batch of events names from every shard that holds
one, each shard rewritten under a fresh name and renamed into place (``outputs.write_file``),
then rewrites the manifest (shard checksums, rows, Merkle root, counts) and the dataset card to
say what the folder now holds, so that ``snapshot verify --offline`` and the card stay true.
The platform's manifest is kept, byte for byte, beside the copy (``platform_manifest``).

Every step may be repeated: a record already removed is not found again, and the manifest is
recomputed from the shards as they are. So a copy killed mid-way is finished by a rerun.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from consentry.client.proof import remaining_root
from consentry.outputs import write_file
from consentry.snapshot.manifest import MANIFEST_NAME, Manifest, dataset_card
from consentry.snapshot.roots import merkle_root
from consentry.snapshot.writer import file_sha256

CARD: Final = "README.md"
#: Rows of a shard read and written at a time: memory stays flat whatever the shard's size.
_BATCH: Final = 131_072
_LANGUAGES = re.compile(r"^language:\n((?:- .*\n)+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Removal:
    table: str  # "data" or "interactions"
    record_id: str
    account: str | None
    reason: str
    event_id: int


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    data = manifest.to_json().encode()
    write_file(folder / MANIFEST_NAME, lambda fh: fh.write(data), mode=0o644)


def _languages(folder: Path) -> list[str]:
    try:
        text = (folder / CARD).read_text("utf-8")
    except FileNotFoundError:
        return []
    m = _LANGUAGES.search(text)
    return [line[2:] for line in m.group(1).splitlines()] if m else []


def _hits(batch: pa.RecordBatch, drop: pa.Array, named: pa.Array | None) -> pa.Array:
    """Which rows of ``batch`` are named: by ``record_id``, or by (``record_id``, ``account``)
    for interactions (``named``, the pairs joined as below)."""
    if named is None:
        return pc.is_in(batch.column("record_id"), value_set=drop)
    pairs = pc.binary_join_element_wise(batch.column("record_id"), batch.column("account"), "\x00")
    return pc.is_in(pairs, value_set=named)


def _rewrite(path: Path, drop: pa.Array, account: pa.Array | None) -> tuple[int, int]:
    """Rewrite the shard without the rows whose ``record_id`` (and ``account``, for
    interactions) is named; (rows before, rows after). Untouched when none is there.

    Both passes go ``_BATCH`` rows at a time (the first reads the key columns only, to learn
    whether the shard must be rewritten at all), so memory does not grow with the shard."""
    pf = pq.ParquetFile(path)
    named = None if account is None else pc.binary_join_element_wise(drop, account, "\x00")
    keys = ["record_id", *(["account"] if account is not None else [])]
    removed = sum(
        int(pc.sum(_hits(b, drop, named)).as_py() or 0)
        for b in pf.iter_batches(batch_size=_BATCH, columns=keys)
    )
    before = pf.metadata.num_rows
    if removed == 0:
        return before, before
    schema = pf.schema_arrow

    def write(fh: BinaryIO) -> None:
        with pq.ParquetWriter(fh, schema, compression="zstd") as writer:
            for batch in pf.iter_batches(batch_size=_BATCH):
                kept = batch.filter(pc.invert(_hits(batch, drop, named)))
                if kept.num_rows:  # an empty row group trips readers (datasets)
                    writer.write_batch(kept)

    write_file(path, write, mode=0o644)
    return before, before - removed


def _current(folder: Path, info: dict[str, Any], since_ns: int) -> dict[str, Any]:
    """The manifest's entry for a shard, brought up to date. A shard of the size the manifest
    records and not written since the manifest was (``since_ns``, its mtime) is the one the
    manifest describes: trusted without reading it, so a refresh costs a ``stat`` per shard
    that did not change, never a re-hash of the whole copy."""
    path = folder / info["path"]
    st = path.stat()
    if st.st_size == int(info.get("bytes", -1)) and st.st_mtime_ns < since_ns:
        return info
    rows = pq.ParquetFile(path).metadata.num_rows
    return {**info, "rows": rows, "bytes": st.st_size, "sha256": file_sha256(path)}


def apply_deletions(folder: Path, removals: Iterable[Removal]) -> int:
    """Remove the named records from the copy at ``folder``; how many rows went (0 again on a
    rerun). The manifest and card are brought up to date whenever they lag the shards."""
    manifest = Manifest.load(folder)
    by_table: dict[str, list[Removal]] = {"data": [], "interactions": []}
    for r in removals:
        by_table.setdefault(r.table, []).append(r)
    gone = 0
    for table, key in (("data", "shards"), ("interactions", "interactions")):
        named = by_table.get(table) or []
        if not named:
            continue
        drop = pa.array([r.record_id for r in named], pa.string())
        account = (
            pa.array([r.account or "" for r in named], pa.string()) if table != "data" else None
        )
        for info in getattr(manifest, key):
            before, after = _rewrite(folder / info["path"], drop, account)
            gone += before - after
    refresh(folder, manifest)
    return gone


def refresh(folder: Path, manifest: Manifest | None = None) -> Manifest:
    """Make the manifest and the card describe the shards as they are (no write when they do)."""
    manifest = manifest or Manifest.load(folder)
    since = (folder / MANIFEST_NAME).stat().st_mtime_ns
    shards = [_current(folder, s, since) for s in manifest.shards]
    interactions = [_current(folder, s, since) for s in manifest.interactions]
    if shards == manifest.shards and interactions == manifest.interactions:
        # Any shard re-read above was found as the manifest says: dating the manifest now (its
        # bytes unchanged) lets the next refresh trust it on a stat.
        os.utime(folder / MANIFEST_NAME)
        return manifest
    manifest.shards, manifest.interactions = shards, interactions
    root, leaves = merkle_root(folder, manifest.shard_infos())
    manifest.merkle = {**manifest.merkle, "root": root, "leaves": leaves}
    included = sum(int(s["rows"]) for s in shards)
    counts = dict(manifest.counts)
    withdrawn = int(counts.get("withdrawn_since", 0)) + int(counts["included"]) - included
    counts["included"] = included
    counts["withdrawn_since"] = withdrawn
    manifest.counts = counts
    card = dataset_card(manifest, _languages(folder))
    card += (
        f"\n## Deletions since delivery\n\n{withdrawn} record(s) were removed from this copy "
        "after delivery, as the platform's compliance feed asked (consent withdrawn, content "
        "or account deleted, erasure); see the sync journal.\n"
    )
    data = card.encode()
    write_file(folder / CARD, lambda fh: fh.write(data), mode=0o644)
    _write_manifest(folder, manifest)
    return manifest


def _in_record_id_order(folder: Path, shards: Iterable[dict[str, Any]]) -> bool:
    """Whether the records, in shard and row order, are already in ``record_id`` order (each
    shard sorted, each after the one before): then the manifest's Merkle tree and the
    attestation's have the same leaves in the same order. One shard's ids read at a time."""
    last: str | None = None
    for s in shards:
        ids = pq.read_table(folder / s["path"], columns=["record_id"])["record_id"]
        if len(ids) == 0:
            continue
        ids = ids.combine_chunks()
        if len(ids) > 1 and not pc.all(pc.greater(ids[1:], ids[:-1])).as_py():
            return False
        first = ids[0].as_py()
        if last is not None and first.encode() <= last.encode():
            return False
        last = ids[-1].as_py()
    return True


def attestation(folder: Path, snapshot_id: str) -> dict[str, Any]:
    """The proof, for the acknowledgement, that the copy holds only what remains.

    After ``refresh`` the manifest's root is the root over the shards as they are (verified
    against the records at download, recomputed from them at every change), so when the
    records are in ``record_id`` order already it is the attestation's root as well, and the
    copy is not hashed a second time. Otherwise the records are sorted (all ids in memory)."""
    manifest = refresh(folder)
    if _in_record_id_order(folder, manifest.shards):
        root, count = str(manifest.merkle["root"]), int(manifest.merkle["leaves"])
    else:
        ids: list[pa.ChunkedArray] = []
        entries: list[pa.ChunkedArray] = []
        for s in manifest.shards:
            t = pq.read_table(folder / s["path"], columns=["record_id", "consent_entry"])
            ids.append(t["record_id"])
            entries.append(t["consent_entry"])
        all_ids = pa.chunked_array([c for a in ids for c in a.chunks], pa.string())
        all_entries = pa.chunked_array([c for a in entries for c in a.chunks], pa.int64())
        root, count = remaining_root(all_ids, all_entries)
    return {
        "snapshot_id": snapshot_id,
        "merkle_root": root,
        "records": count,
        "shards": [
            {"path": s["path"], "rows": s["rows"], "sha256": s["sha256"]}
            for s in [*manifest.shards, *manifest.interactions]
        ],
    }


def load_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    return data
