"""verify, prove, and a build killed mid-way then resumed."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentry.ledger.store import LedgerStore
from consentry.model import ConsentDecision, Decision
from consentry.snapshot.manifest import Manifest
from consentry.snapshot.verify import prove, verify_against_workspace, verify_files

from .conftest import Build, KeyedPseudonyms, RecordingSink, ids_of, read_records

REPO = Path(__file__).resolve().parents[2]


def test_a_fresh_snapshot_verifies(build: Build) -> None:
    report = verify_files(build().out)
    assert report.ok, report.problems


def test_verify_catches_a_changed_shard(build: Build) -> None:
    out = build().out
    shard = out / "data" / "part-00001.parquet"
    table = pq.read_table(shard)
    pq.write_table(table.slice(1), shard)  # a record quietly removed
    problems = verify_files(out).problems
    assert problems == ["data/part-00001.parquet: checksum differs from the manifest"]


def test_verify_catches_an_extra_file_and_a_forged_root(build: Build) -> None:
    out = build().out
    (out / "data" / "part-00099.parquet").write_bytes(b"x")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["merkle"]["root"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    problems = verify_files(out).problems
    assert "data/part-00099.parquet: file not listed in the manifest" in problems
    (out / "data" / "part-00099.parquet").unlink()
    assert any("Merkle root" in p for p in verify_files(out).problems)


def _builder_for(build: Build, ledger: LedgerStore, key: bytes = b"k" * 32) -> object:
    # The fixture's Builder, rebuilt the same way for re-derivation.
    import hashlib

    from consentry.policy import load_policy
    from consentry.snapshot.build import Builder
    from consentry.snapshot.records import RecordMaker
    from consentry.snapshot.source import MemorySource

    from .conftest import content_table, interactions_table, no_scrub

    return Builder(
        ledger=ledger,
        policy=load_policy(),
        source=MemorySource(content_table(), interactions=interactions_table()),
        maker=RecordMaker(KeyedPseudonyms(key), no_scrub, "day"),
        key_fingerprint=hashlib.sha256(key).hexdigest()[:16],
    )


def test_rederivation_agrees_and_survives_later_entries(build: Build, ledger: LedgerStore) -> None:
    out = build().out
    # A withdrawal after the snapshot's position changes nothing about what it should hold.
    ledger.append(
        [
            ConsentDecision(
                "a1",
                "train",
                Decision.DENY,
                __import__("datetime").datetime.now(__import__("datetime").UTC),
            )
        ]
    )
    report = verify_files(out)
    verify_against_workspace(out, _builder_for(build, ledger), report)  # type: ignore[arg-type]
    assert report.ok and report.rederived, report.problems


def test_rederivation_catches_a_record_that_should_not_be_there(
    build: Build, ledger: LedgerStore
) -> None:
    out = build().out
    manifest = Manifest.load(out)
    # Forge a consistent snapshot (checksums and root recomputed) that smuggles in c2.
    shard = out / manifest.shards[0]["path"]
    table = pq.read_table(shard)
    extra = table.slice(0, 1).set_column(
        0, "record_id", pa.array(ids_of(KeyedPseudonyms(b"k" * 32), ["c2"]))
    )
    pq.write_table(pa.concat_tables([table, extra]), shard)
    from consentry.snapshot.roots import merkle_root
    from consentry.snapshot.writer import file_sha256

    manifest.shards[0]["sha256"] = file_sha256(shard)
    manifest.shards[0]["rows"] += 1
    manifest.shards[0]["bytes"] = shard.stat().st_size
    manifest.merkle["root"], manifest.merkle["leaves"] = merkle_root(out, manifest.shard_infos())
    (out / "manifest.json").write_text(manifest.to_json())
    report = verify_files(out)
    assert report.ok  # self-consistent…
    verify_against_workspace(out, _builder_for(build, ledger), report)  # type: ignore[arg-type]
    c2 = ids_of(KeyedPseudonyms(b"k" * 32), ["c2"])[0]
    assert report.problems == [f"record {c2} should not be in the snapshot"]  # …but caught


def test_rederivation_catches_a_missing_record(build: Build, ledger: LedgerStore) -> None:
    out = build().out
    manifest = Manifest.load(out)
    shard = out / manifest.shards[0]["path"]
    table = pq.read_table(shard)
    dropped = table["record_id"][0].as_py()
    pq.write_table(table.slice(1), shard)
    report = verify_files(out)
    verify_against_workspace(out, _builder_for(build, ledger), report)  # type: ignore[arg-type]
    assert f"record {dropped} is missing: it is eligible as of the position" in report.problems


def test_prove_links_a_record_to_its_consent_entry(build: Build) -> None:
    out = build().out
    c12 = ids_of(KeyedPseudonyms(b"k" * 32), ["c12"])[0]
    proof = prove(out, c12)
    assert proof.check()
    assert proof.consent_entry == 7  # a1's grant of train: entry 7 of the seeded ledger
    assert proof.merkle_root == Manifest.load(out).merkle["root"]
    forged = dataclasses.replace(proof, consent_entry=8)
    assert not forged.check()


def test_prove_unknown_record(build: Build) -> None:
    from consentry.errors import UsageError

    with pytest.raises(UsageError, match="not in the snapshot"):
        prove(build().out, "c_nope")


def test_killed_build_resumes_to_the_same_bytes(
    build: Build, ledger: LedgerStore, tmp_path: Path
) -> None:
    told = RecordingSink()
    reference = build("reference", batch_size=2, shard_rows=4, sink=told).out
    out = tmp_path / "crashed"
    partial = tmp_path / ".crashed.partial"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.snapshot.slow_build", ledger.url, str(out), "0.15"],
        cwd=REPO,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not list(partial.glob("data/*.done")) and time.monotonic() < deadline:
        assert proc.poll() is None, "the build ended before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # nothing published: a reader never sees half a snapshot
    assert list(partial.glob("data/*.done"))
    told_again = RecordingSink()
    resumed = build("crashed", batch_size=2, shard_rows=4, sink=told_again)
    assert resumed.resumed_shards >= 1
    # Whoever listens (the delivery map) hears of every included item, resumed shards' too,
    # in record order, with the entry that authorised it.
    assert told_again.content_rows == told.content_rows
    assert told_again.interaction_rows == told.interaction_rows
    records = read_records(out)
    ids = [cid for cid, _ in told.content_rows]
    assert ids_of(KeyedPseudonyms(b"k" * 32), ids) == records["record_id"].to_pylist()
    entries = [None if e == -1 else e for _, e in told.content_rows]
    assert entries == records["consent_entry"].to_pylist()
    assert len(told.interaction_rows) == pq.read_table(out / "interactions").num_rows
    files = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for rel in files:
        assert (reference / rel).read_bytes() == (out / rel).read_bytes(), rel
