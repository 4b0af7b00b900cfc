"""Processes killed mid-way (real kills: ``crash.py`` exits at the point, no cleanup) leave
nothing compliance does not know of, and a rerun finishes the job: a build killed either side
of its publishing rename, an erasure killed before its certificate. And a certificate, once
issued, is never replaced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.compliance.conftest import Run, all_events, feed, pseudonyms, record_id, records_of
from tests.compliance.crash import KILLED

from consentry.compliance.erasure import _issue
from consentry.content.store import ContentStore

CRASH = Path(__file__).with_name("crash.py")
BUILD = ("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")


def killed(point: str, *args: str) -> None:
    """`consentry ARGS…` in another process, dead at ``point``."""
    proc = subprocess.run(
        [sys.executable, str(CRASH), point, *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == KILLED, (proc.stdout, proc.stderr)


def holders(run: Run, account: str) -> list[str | None]:
    found = json.loads(run("whereis", account, "--json").output)
    return [s["recipient"] for s in found["snapshots"]]


def test_build_killed_just_after_publishing(run: Run, tmp_path: Path) -> None:
    killed("after-publish", *BUILD)
    published = tmp_path / "s1"
    assert (published / "manifest.json").is_file()
    # Compliance knows the snapshot: where-is lists it, it verifies, its holder is told.
    assert holders(run, "a1") == ["acme"]
    assert "ok" in run("snapshot", "verify", "s1").output
    shown = json.loads(run("recipient", "show", "acme", "--json").output)
    assert [s["snapshot_id"] for s in shown["snapshots"]] == [
        json.loads((published / "manifest.json").read_text())["snapshot_id"]
    ]
    # A rerun of the same build adopts it as it is, rather than refusing to touch it.
    before = {p.name: p.read_bytes() for p in (published / "data").iterdir()}
    assert "recorded as delivered to acme" in run(*BUILD).output
    assert {p.name: p.read_bytes() for p in (published / "data").iterdir()} == before
    run("consent", "deny", "a1", "train", "--scope", "assistant")
    assert {e["record_id"] for e in all_events(run)} == {record_id("p3"), record_id("p4")}
    assert record_id("p3") in records_of(published)
    # The ledger moved: another build, which must not replace the delivered one.
    assert "already exists" in run(*BUILD, code=2).output


def test_build_killed_just_before_publishing(run: Run, tmp_path: Path) -> None:
    killed("before-publish", *BUILD)
    assert not (tmp_path / "s1").exists()
    assert holders(run, "a1") == []  # recorded, but nobody holds it yet
    run(*BUILD)
    assert holders(run, "a1") == ["acme"]
    run("consent", "deny", "a1", "train", "--scope", "assistant")
    assert len(all_events(run)) == 2


def test_second_erasure_keeps_the_first_certificate(run: Run, tmp_path: Path) -> None:
    run(*BUILD)
    run("erase", "a3", "--yes")
    (certificate,) = (tmp_path / "ws" / "certificates").iterdir()
    issued = certificate.read_bytes()
    doc = json.loads(issued)
    assert doc["removed_from_content_store"]["versions"]["items"] == 3
    out = run("erase", "a3", "--yes").output
    assert "already erased" in out and doc["erased_at"] in out and str(certificate) in out
    assert list((tmp_path / "ws" / "certificates").iterdir()) == [certificate]
    assert certificate.read_bytes() == issued
    assert len(all_events(run)) == 4


def test_interrupted_erasure_is_finished_by_a_rerun(run: Run, tmp_path: Path) -> None:
    run(*BUILD)
    killed("before-scan", "erase", "a3", "--yes")
    certificates = tmp_path / "ws" / "certificates"
    assert not list(certificates.glob("erasure-*[0-9].json"))  # no certificate yet
    store = ContentStore(tmp_path / "ws" / "content")
    assert "a3" not in {r["author_id"] for b in store.scan(["author_id"]) for r in b.to_pylist()}
    out = run("erase", "a3", "--yes").output
    assert "already" not in out
    (certificate,) = certificates.iterdir()  # and the journal is gone
    doc = json.loads(certificate.read_text())
    # What the killed run removed is counted: the content was gone when the rerun began.
    assert doc["removed_from_content_store"]["versions"] == {
        "items": 3,
        "interactions": 1,
        "accounts": 1,
    }
    assert doc["recipients_notified"][0]["events"] == 4
    assert {e["record_id"] for e in all_events(run)} == {
        record_id(c) for c in ("r1", "s1", "s2", "p1")
    }


def test_a_certificate_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "erasure-000000000007.json"
    assert _issue(path, {"account_id": "a1", "n": 1})
    issued = path.read_bytes()
    assert not _issue(path, {"account_id": "a1", "n": 0})
    assert path.read_bytes() == issued
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_killed_publication_is_known_to_the_next_compliance_command(
    run: Run, tmp_path: Path
) -> None:
    killed("after-publish", "snapshot", "build", "--purpose", "train", "--out", "internal")
    run("consent", "deny", "a2", "train")  # its scan: the internal snapshot's holder is told
    events = json.loads(run("export", "a2").output)["events"]
    assert {(e["recipient"], e["record_id"]) for e in events} == {
        (None, pseudonyms(None).content(c)) for c in ("q1", "q2")
    }
    internal = feed(run, "--internal", "--since", "0")[0]
    assert {e["record_id"] for e in internal} == {
        pseudonyms(None).content(c)
        for c in ("q1", "q2", "r1")  # r1: a repost of q1
    }
