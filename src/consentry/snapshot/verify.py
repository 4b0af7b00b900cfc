"""Check a snapshot against its manifest, and, given the workspace, against the ledger.

``verify`` answers "is this the snapshot the manifest describes, and does it hold exactly what
consent allowed as of its position?". ``prove`` prints the chain from one record to the consent
entry that allowed it and to the published ledger head.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from consentry.errors import SnapshotError, SnapshotKeyError, UsageError
from consentry.ledger import Resolved
from consentry.model import Reason
from consentry.snapshot.build import Builder, BuildSpec
from consentry.snapshot.census import CENSUS_COLUMNS, normalised_text, take_census
from consentry.snapshot.manifest import MANIFEST_NAME, Manifest, iter_leaves, leaf_data
from consentry.snapshot.merkle import audit_path, leaf_hash, root_from_path
from consentry.snapshot.roots import merkle_root
from consentry.snapshot.workspace_build import key_fingerprint
from consentry.snapshot.writer import file_sha256


@dataclass
class VerifyReport:
    manifest: Manifest
    problems: list[str] = field(default_factory=list)
    rederived: bool = False
    #: Records whose account was erased since: their content is gone, so they cannot be
    #: re-derived; not a problem (each holder was sent an erasure event).
    erased_since: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def load_manifest(folder: Path) -> Manifest:
    if not (folder / MANIFEST_NAME).is_file():
        raise UsageError(f"{folder} is not a snapshot: no {MANIFEST_NAME}")
    try:
        return Manifest.load(folder)
    except (ValueError, TypeError) as exc:
        raise SnapshotError(f"{folder / MANIFEST_NAME} is not a valid manifest: {exc}") from None


def verify_files(folder: Path) -> VerifyReport:
    """Checksums, row counts and the Merkle root, from the folder alone."""
    manifest = load_manifest(folder)
    report = VerifyReport(manifest)
    listed = {s["path"] for s in manifest.shards + manifest.interactions}
    for sub in ("data", "interactions"):
        for path in sorted((folder / sub).glob("*")) if (folder / sub).is_dir() else []:
            rel = path.relative_to(folder).as_posix()
            if rel not in listed:
                report.problems.append(f"{rel}: file not listed in the manifest")
    for shard in manifest.shard_infos() + manifest.shard_infos("interactions"):
        path = folder / shard.path
        if not path.is_file():
            report.problems.append(f"{shard.path}: missing")
            continue
        if file_sha256(path) != shard.sha256:
            report.problems.append(f"{shard.path}: checksum differs from the manifest")
            continue
        rows = pq.ParquetFile(path).metadata.num_rows
        if rows != shard.rows:
            report.problems.append(f"{shard.path}: {rows} rows, manifest says {shard.rows}")
    if not report.problems:
        root, leaves = merkle_root(folder, manifest.shard_infos())
        if root != manifest.merkle["root"] or leaves != manifest.merkle["leaves"]:
            report.problems.append(
                f"Merkle root {root} over {leaves} records differs from the manifest's "
                f"{manifest.merkle['root']} over {manifest.merkle['leaves']}"
            )
    return report


def check_key(folder: Path, manifest: Manifest, secret: bytes, secret_from: str) -> None:
    """Raise ``SnapshotKeyError`` unless the snapshot's pseudonyms were made with ``secret``
    (read from ``secret_from``), told by the key fingerprint its manifest carries."""
    built = manifest.pseudonyms.get("key_fingerprint")
    mine = key_fingerprint(secret, manifest.recipient)
    if built is not None and built != mine:
        raise SnapshotKeyError(
            f"{folder} was built with another key: fingerprint {built}, this workspace's key "
            f"(from {secret_from}) {mine}; a licensee checks with "
            f"`consentry snapshot verify --offline {folder}`"
        )


def expected_records(builder: Builder, manifest: Manifest) -> tuple[dict[str, int | None], Any]:
    """Record id → authorising entry of every item that should be in the snapshot, re-derived
    from the workspace as of the manifest's ledger position; and the position's hash check."""
    ledger = builder.ledger
    position = ledger.position_at(int(manifest.ledger["seq"]))
    if position.hash != manifest.ledger["head"]:
        raise SnapshotError(
            f"the ledger's entry {position.seq} no longer carries the head the snapshot "
            f"published ({manifest.ledger['head']}): history was rewritten"
        )
    resolved = Resolved(position, manifest.ledger.get("time_bound_us"))
    spec = BuildSpec(purpose=manifest.purpose, recipient=manifest.recipient, out=Path())
    # From the entries themselves, not from checkpoints: a check must not trust a cache.
    index = builder.state_index(spec, resolved, use_checkpoints=False)
    on = ledger.position_time(resolved).date()
    census = take_census(
        builder.source.scan(CENSUS_COLUMNS, spec.batch_size), index, builder.policy, on=on
    )
    ids = pa.chunked_array(
        [b.column("content_id") for b in builder.source.scan(["content_id"], spec.batch_size)],
        type=pa.string(),
    )
    keep = np.nonzero(census.reasons == Reason.ELIGIBLE)[0]
    record_ids = builder.maker.pseudonyms.contents(ids.take(pa.array(keep))).to_pylist()
    entries = [None if e < 0 else int(e) for e in census.consent_entry[keep]]
    return dict(zip(record_ids, entries, strict=True)), census


def verify_against_workspace(
    folder: Path, builder: Builder, report: VerifyReport, *, erased: frozenset[str] = frozenset()
) -> None:
    """Re-derive every record as of the snapshot's position and compare. ``erased``: record ids
    of accounts erased since (GDPR art. 17), which cannot be re-derived and are not problems."""
    expected, _ = expected_records(builder, report.manifest)
    actual: dict[str, int | None] = {}
    for rid, entry, _ in iter_leaves(folder, report.manifest.shard_infos()):
        if rid in actual:
            report.problems.append(f"record {rid} appears twice")
        actual[rid] = entry
    for rid in sorted(set(actual) - set(expected)):
        if rid in erased:
            report.erased_since += 1
            continue
        report.problems.append(f"record {rid} should not be in the snapshot")
    missing = set(expected) - set(actual)
    if missing and erased:
        surfaced = _surfaced_duplicates(folder, builder, report.manifest, missing, erased)
        report.erased_since += len(surfaced)
        missing -= surfaced
    for rid in sorted(missing):
        report.problems.append(f"record {rid} is missing: it is eligible as of the position")
    for rid in sorted(set(actual) & set(expected)):
        if actual[rid] != expected[rid]:
            report.problems.append(
                f"record {rid} cites consent entry {actual[rid]}, the ledger says {expected[rid]}"
            )
    report.rederived = True


def _surfaced_duplicates(
    folder: Path, builder: Builder, manifest: Manifest, missing: set[str], erased: frozenset[str]
) -> set[str]:
    """Missing records explained by an erasure: the erased account held the earliest copy of
    the same text, so this later copy was a duplicate when the snapshot was built and is the
    earliest now. Told by comparing, normalised, the erased record's text in the snapshot with
    this record's text scrubbed the same way (the erased text itself is gone)."""
    erased_texts: set[str] = set()
    for shard in manifest.shard_infos():
        table = pq.read_table(folder / shard.path, columns=["record_id", "text"])
        chosen = table.filter(pc.is_in(table["record_id"], value_set=pa.array(sorted(erased))))
        erased_texts.update(t for t in normalised_text(chosen["text"]).to_pylist() if t is not None)
    if not erased_texts:
        return set()
    pseudonyms = builder.maker.pseudonyms
    surfaced: set[str] = set()
    for batch in builder.source.scan(["content_id", "text"], 65_536):
        rids = pseudonyms.contents(batch.column("content_id"))
        mine = pc.is_in(rids, value_set=pa.array(sorted(missing)))
        if not pc.any(mine).as_py():
            continue
        rows = batch.filter(mine)
        scrubbed, _ = builder.maker.scrub(rows.column("text"))
        for rid, text in zip(
            pc.filter(rids, mine).to_pylist(),
            normalised_text(scrubbed).to_pylist(),
            strict=True,
        ):
            if text in erased_texts:
                surfaced.add(rid)
    return surfaced


@dataclass(frozen=True, slots=True)
class Proof:
    record_id: str
    consent_entry: int | None
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    merkle_root: str
    ledger_seq: int
    ledger_head: str

    def check(self) -> bool:
        leaf = leaf_hash(leaf_data(self.record_id, self.consent_entry))
        if leaf.hex() != self.leaf_hash:
            return False
        path = [bytes.fromhex(h) for h in self.audit_path]
        return root_from_path(leaf, self.leaf_index, self.tree_size, path).hex() == self.merkle_root


def prove(folder: Path, record_id: str) -> Proof:
    manifest = load_manifest(folder)
    leaves: list[bytes] = []
    found: tuple[int, int | None] | None = None
    for i, (rid, entry, h) in enumerate(iter_leaves(folder, manifest.shard_infos())):
        leaves.append(h)
        if rid == record_id:
            found = (i, entry)
    if found is None:
        raise UsageError(f"record {record_id} is not in the snapshot {folder}")
    index, entry = found
    return Proof(
        record_id=record_id,
        consent_entry=entry,
        leaf_index=index,
        tree_size=len(leaves),
        leaf_hash=leaves[index].hex(),
        audit_path=[h.hex() for h in audit_path(leaves, index)],
        merkle_root=manifest.merkle["root"],
        ledger_seq=int(manifest.ledger["seq"]),
        ledger_head=manifest.ledger["head"],
    )
