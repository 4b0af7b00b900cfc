"""``consentry sync`` end to end against a real ``consentry serve``, on SQLite and PostgreSQL:
build for a recipient, sync, withdraw, delete, protect, erase, sync again. The oracle is a
fresh build as of the head: the local copy holds exactly its records. The attestations verify
(the platform keeps them, overdue counts them), a tampered one is refused, another licensee
sees nothing, and the copy verifies offline and loads with ``datasets``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from tests.api.serving import free_port
from tests.compliance.conftest import ACCOUNTS, CONTENT, records_of, write_export

from consentry.client import BadKeyError, ServerUnreachableError, SyncError, sync
from consentry.client.api import LicenseeApi
from consentry.client.copy import attestation
from consentry.client.sync import Progress, Sync, SyncResult
from consentry.snapshot.manifest import MANIFEST_NAME

from .conftest import Platform

pytestmark = pytest.mark.slow


def _only_snapshot(folder: Path) -> Path:
    found = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(found) == 1, found
    return found[0]


def _history(p: Platform) -> None:
    """Withdraw, delete, protect, erase: one of each."""
    run, tmp = p.run, p.root
    run("consent", "deny", "a2", "train")  # q1, q2 (and the repost of q1)
    deleted = [
        dict(c, deleted_at="2024-06-01T00:00:00Z") if c["id"] == "s1" else c for c in CONTENT
    ]
    run("import", "canonical", str(write_export(tmp / "e2", deleted, ACCOUNTS)))
    protected = [dict(a, protected=True) if a["id"] == "a1" else a for a in ACCOUNTS]
    run("import", "canonical", str(write_export(tmp / "e3", deleted, protected)))
    run("erase", "a3", "--yes")


def test_sync_apply_attest_against_the_build(platform: Platform, tmp_path: Path) -> None:
    p = platform
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    local = tmp_path / "licensee"
    first = sync(p.url, p.key, local)
    copy_dir = _only_snapshot(local)
    assert first.downloaded == [copy_dir.name] and first.events == 0
    # Byte-identical to what the platform wrote, and the same records.
    assert (copy_dir / MANIFEST_NAME).read_bytes() == (tmp_path / "s1" / MANIFEST_NAME).read_bytes()
    assert records_of(copy_dir) == records_of(tmp_path / "s1")
    # Nothing new: a second run downloads nothing.
    assert sync(p.url, p.key, local).downloaded == []

    _history(p)
    second = sync(p.url, p.key, local)
    assert second.events > 0 and second.removed > 0 and second.attested == [copy_dir.name]
    # The oracle: a fresh build as of the head.
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "fresh")
    assert records_of(copy_dir) == records_of(tmp_path / "fresh")
    # The journal says what went, when and why, once per record.
    journal = [
        json.loads(x) for x in (local / ".consentry-sync/journal.jsonl").read_text().splitlines()
    ]
    data = {(j["record_id"], j["reason"]) for j in journal if j["table"] == "data"}
    assert {r for r, _ in data} == records_of(tmp_path / "s1") - records_of(copy_dir)
    assert {"consent_denied", "content_deleted", "protected_account", "erasure"} <= {
        reason for _, reason in data
    }
    assert all(j["removed_at"] and j["x_event"] for j in journal)
    assert len(journal) == len({(j["table"], j["record_id"], j.get("account")) for j in journal})
    # The copy verifies offline, with no workspace, and its card tells the new count.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
    done = subprocess.run(
        [sys.executable, "-m", "consentry.cli.main", "snapshot", "verify", "--offline",
         str(copy_dir)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((copy_dir / MANIFEST_NAME).read_text())
    kept = len(records_of(copy_dir))
    assert manifest["counts"]["included"] == kept == manifest["merkle"]["leaves"]
    assert f"- records: {kept} of" in (copy_dir / "README.md").read_text()
    # The platform's manifest is still kept byte for byte.
    kept_platform = local / ".consentry-sync/platform" / f"{copy_dir.name}.manifest.json"
    assert kept_platform.read_bytes() == (tmp_path / "s1" / MANIFEST_NAME).read_bytes()
    # The attestation was kept, feed/whereis show it, and nothing is overdue even much later.
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    p.run("compliance", "overdue", "--at", later)
    feed_out = p.run("compliance", "feed", "--recipient", "acme", "--since", "0").stdout
    assert all(json.loads(line)["attested"] for line in feed_out.splitlines())
    where = json.loads(p.run("whereis", "a2", "--json").output)
    assert any(s.get("attestation") for s in where["snapshots"])


def test_tampered_attestation_is_refused_and_overdue_counts_it(
    platform: Platform, tmp_path: Path
) -> None:
    p = platform
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    local = tmp_path / "licensee"
    sync(p.url, p.key, local)
    copy_dir = _only_snapshot(local)
    p.run("consent", "deny", "a2", "train")
    client = httpx.Client(base_url=p.url, headers={"Authorization": f"Bearer {p.key}"})
    events = client.get("/v1/compliance/events").json()["events"]
    assert events and all(e["x_event"] == "delete" for e in events)
    through = events[-1]["event_id"]
    # Attesting without having deleted anything: the root is that of every record.
    lying = attestation(copy_dir, copy_dir.name)
    r = client.post("/v1/compliance/ack", json={"through": through, "attestations": [lying]})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "does not hold" in r.json()["detail"]
    assert client.get("/v1/compliance/events").json()["events"]  # nothing was acknowledged
    # Acknowledged without an attestation: acknowledged, but overdue once the deadline passes.
    assert client.post("/v1/compliance/ack", json={"through": through}).status_code == 200
    later = (datetime.now(UTC) + timedelta(days=11)).isoformat()
    out = p.run("compliance", "overdue", "--at", later, code=1).output
    assert "acme" in out and "unattested" in out
    # Another licensee sees none of acme's events or jobs.
    p.run("recipient", "add", "other")
    other = httpx.Client(base_url=p.url, headers={"Authorization": f"Bearer {p.licensee('other')}"})
    assert other.get("/v1/compliance/events").json()["events"] == []
    assert other.get("/v1/compliance/jobs").json()["data"] == []
    # X's batch layout: one tweets job per snapshot, its result a line per record to delete.
    jobs = client.get("/v1/compliance/jobs", params={"type": "tweets"}).json()["data"]
    assert [j["name"] for j in jobs] == [copy_dir.name] and jobs[0]["status"] == "complete"
    lines = client.get(jobs[0]["download_url"]).text.splitlines()
    rows = [json.loads(x) for x in lines]
    assert {r["id"] for r in rows} == {e["record_id"] for e in events if e["table"] == "data"}
    assert all(r["action"] == "delete" and r["reason"] == "deleted" for r in rows)
    assert other.get(jobs[0]["download_url"]).status_code == 404


def test_clear_errors(platform: Platform, tmp_path: Path) -> None:
    p = platform
    with pytest.raises(BadKeyError, match="refused the key"):
        sync(p.url, "cs_not_a_key", tmp_path / "a")
    with pytest.raises(ServerUnreachableError, match="cannot reach"):
        sync(f"http://127.0.0.1:{free_port()}", p.key, tmp_path / "b")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
    done = subprocess.run(
        [sys.executable, "-m", "consentry.cli.main", "sync", "--server", p.url, "--key", "nope",
         "--dir", str(tmp_path / "c")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 13 and "refused the key" in done.stderr
    assert "Traceback" not in done.stderr


def test_checksum_mismatch_publishes_nothing(platform: Platform, tmp_path: Path) -> None:
    p = platform
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    shard = tmp_path / "s1" / "data" / "part-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the platform's file rots after its manifest was written
    shard.write_bytes(bytes(data))
    from consentry.client import ChecksumError

    with pytest.raises(ChecksumError, match="SHA-256"):
        sync(p.url, p.key, tmp_path / "licensee")
    assert [x.name for x in (tmp_path / "licensee").iterdir()] == [".consentry-sync"]


def test_loads_with_datasets(platform: Platform, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    p = platform
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    local = tmp_path / "licensee"
    sync(p.url, p.key, local)
    p.run("consent", "deny", "a2", "train")  # some records go, some stay
    assert sync(p.url, p.key, local).removed > 0
    copy_dir = _only_snapshot(local)
    assert records_of(copy_dir)
    loaded = datasets.load_dataset(str(copy_dir), split="train", cache_dir=str(tmp_path / "hf"))
    assert sorted(loaded["record_id"]) == sorted(records_of(copy_dir))
    assert len(loaded) == pq.ParquetFile(next((copy_dir / "data").iterdir())).metadata.num_rows


def test_a_folder_sync_did_not_make_is_left_alone(platform: Platform, tmp_path: Path) -> None:
    p = platform
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    sid = json.loads((tmp_path / "s1" / MANIFEST_NAME).read_text())["snapshot_id"]
    mine = tmp_path / "licensee" / sid
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("the licensee's own file")
    from consentry.client import SyncError

    with pytest.raises(SyncError, match="not a snapshot sync made"):
        sync(p.url, p.key, tmp_path / "licensee")
    assert [x.name for x in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "the licensee's own file"


def test_a_manifest_naming_a_path_outside_writes_nothing_there(
    platform: Platform, tmp_path: Path
) -> None:
    p = platform
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    manifest_path = tmp_path / "s1" / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["shards"][0]["path"] = "../../../../outside.parquet"
    manifest_path.write_text(json.dumps(manifest))  # a broken or hostile platform's manifest
    from consentry.client import SyncError

    with pytest.raises(SyncError, match="not a plain relative path"):
        sync(p.url, p.key, tmp_path / "licensee")
    assert not (tmp_path / "outside.parquet").exists()
    assert [x.name for x in (tmp_path / "licensee").iterdir()] == [".consentry-sync"]


def test_events_are_applied_and_attested_once_per_batch(platform: Platform, tmp_path: Path) -> None:
    """Pages are journaled one by one, but the copy is rewritten, re-rooted and attested once
    per batch of pages (re-rooting a large copy for every page made the apply step slow)."""
    p = platform
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    local = tmp_path / "licensee"
    sync(p.url, p.key, local)
    _history(p)
    with LicenseeApi(p.url, p.key) as api:
        pending = len(api.events("0", 1000)[0])
        assert pending >= 4
        result = SyncResult()
        Sync(api, local).apply_events(result, page=1, batch=3)
    assert result.events == pending
    assert len(result.attested) == -(-pending // 3)  # one acknowledgement per batch of 3
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "fresh")
    assert records_of(_only_snapshot(local)) == records_of(tmp_path / "fresh")
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    p.run("compliance", "overdue", "--at", later)  # every batch's attestation was accepted
    assert sync(p.url, p.key, local).events == 0


def test_a_rate_limited_sync_waits_as_told_and_finishes(platform: Platform, tmp_path: Path) -> None:
    # The key's whole burst (60 a minute, the default) spent first: from then on the server
    # answers 429 with Retry-After until a request's turn comes, one a second.
    p = platform
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    auth = {"Authorization": f"Bearer {p.key}"}
    with httpx.Client(base_url=p.url, headers=auth) as client:
        while client.get("/v1/snapshots").status_code != 429:
            pass
    with (
        LicenseeApi(p.url, p.key, max_wait=0) as impatient,
        pytest.raises(SyncError, match=r"429 .*rate limit of 60 requests per minute"),
    ):
        impatient.snapshots()
    notes: list[str] = []

    class Told(Progress):
        def note(self, text: str) -> None:
            notes.append(text)

    done = sync(p.url, p.key, tmp_path / "licensee", Told())
    assert len(done.downloaded) == 1
    waits = [n for n in notes if n.startswith("the server asks to wait")]
    assert waits and all("rate limit" in n for n in waits)
    copy_dir = _only_snapshot(tmp_path / "licensee")
    assert (copy_dir / MANIFEST_NAME).read_bytes() == (tmp_path / "s1" / MANIFEST_NAME).read_bytes()
