"""Withdrawals, deletions, protection and erasure reach the recipient, through the CLI, on a
small platform whose every record is known: the feed must hold exactly the affected records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.compliance.conftest import (
    ACCOUNTS,
    CONTENT,
    Run,
    account_pseudonym,
    all_events,
    feed,
    post,
    pseudonyms,
    record_id,
    records_of,
    write_export,
)

from consentry.content.store import ContentStore


def test_feed_holds_exactly_the_affected_records(run: Run, tmp_path: Path) -> None:
    run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    delivered = records_of(tmp_path / "s1")
    # a4 never granted share: not delivered. Everything of a1..a3 is.
    assert delivered == {record_id(c) for c in
                         ("p1", "p2", "p3", "p4", "q1", "q2", "r1", "s1", "s2")}  # fmt: skip
    assert all_events(run) == []

    # A scoped withdrawal reaches the assistant records only.
    run("consent", "deny", "a1", "train", "--scope", "assistant")
    events = all_events(run)
    assert {(e["record_id"], e["reason"]) for e in events} == {
        (record_id("p3"), "consent_denied"),
        (record_id("p4"), "consent_denied"),
    }
    assert all(e["table"] == "data" for e in events)

    # Withdrawing share from this recipient: a2's records, a2's like... and a3's repost of q1,
    # which follows its original.
    run("consent", "deny", "a2", "share", "--recipient", "acme")
    new = all_events(run)[2:]
    assert {(e["record_id"], e["reason"]) for e in new} == {
        (record_id("q1"), "no_share_consent"),
        (record_id("q2"), "no_share_consent"),
        (record_id("r1"), "no_share_consent"),
    }

    # A re-grant does not resurrect them, and a second withdrawal does not repeat the notice.
    run("consent", "grant", "a2", "share", "--recipient", "acme")
    run("consent", "deny", "a2", "share")
    assert len(all_events(run)) == 5

    # A deleted item (re-import of the export with the item marked deleted).
    deleted = [dict(c) for c in CONTENT]
    for c in deleted:
        if c["id"] == "s1":
            c["deleted_at"] = "2024-06-01T00:00:00Z"
    run("import", "canonical", str(write_export(tmp_path / "export2", deleted, ACCOUNTS)))
    new = all_events(run)[5:]
    assert [(e["record_id"], e["reason"]) for e in new] == [(record_id("s1"), "content_deleted")]

    # An account that becomes protected: its remaining records, and its like of q1 in the
    # interactions table (an interaction record is its account's).
    inter = pq.read_table(tmp_path / "s1" / "interactions").to_pylist()
    assert {(r["account"], r["record_id"]) for r in inter} == {
        (account_pseudonym("a1"), record_id("q1")),
        (account_pseudonym("a3"), record_id("p1")),
    }
    protected = [dict(a, protected=True) if a["id"] == "a1" else a for a in ACCOUNTS]
    run("import", "canonical", str(write_export(tmp_path / "export3", deleted, protected)))
    new = all_events(run)[6:]
    assert {(e["table"], e["record_id"], e.get("account"), e["reason"]) for e in new} == {
        ("data", record_id("p1"), None, "protected_account"),
        ("data", record_id("p2"), None, "protected_account"),
        ("interactions", record_id("q1"), account_pseudonym("a1"), "protected_account"),
    }

    # The next snapshot for the recipient holds none of the notified records, and every record
    # it lost was notified (nothing changed for s2).
    run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s2")
    notified = {e["record_id"] for e in all_events(run) if e["table"] == "data"}
    assert records_of(tmp_path / "s2") == delivered - notified
    assert record_id("s2") in records_of(tmp_path / "s2")


def test_interaction_withdrawal_and_deactivation(run: Run, tmp_path: Path) -> None:
    run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    run("consent", "deny", "a3", "train", "--scope", "interactions")
    events = all_events(run)
    assert [(e["table"], e["record_id"], e["account"]) for e in events] == [
        ("interactions", record_id("p1"), account_pseudonym("a3"))
    ]
    deactivated = [dict(a, status="deactivated") if a["id"] == "a2" else a for a in ACCOUNTS]
    run("import", "canonical", str(write_export(tmp_path / "e2", CONTENT, deactivated)))
    new = all_events(run)[1:]
    assert {(e["record_id"], e["reason"]) for e in new} == {
        (record_id("q1"), "account_inactive"),
        (record_id("q2"), "account_inactive"),
        (record_id("r1"), "account_inactive"),
    }


@pytest.mark.slow
def test_cursor_ack_and_overdue_across_processes(run: Run, tmp_path: Path) -> None:
    run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    run("consent", "deny", "a1", "train")  # p1..p4 and a1's like (interactions)
    page1, cursor = feed(run, "--limit", "2")
    assert len(page1) == 2
    # The next page, from another process, resumes after the cursor.
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "consentry.cli.main", "compliance", "feed", "--recipient", "acme",
         "--since", cursor, "--limit", "100"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    page2 = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["event_id"] for e in page1 + page2] == list(range(1, 6))
    assert proc.stderr.strip().endswith("next-cursor: 5")

    # Nothing is overdue yet; eleven days later (deadline: ten) everything is.
    run("compliance", "overdue")
    later = (datetime.now(UTC) + timedelta(days=11)).isoformat()
    out = run("compliance", "overdue", code=1, env={"CONSENTRY_NOW": later}).output
    assert "acme" in out and " 5 " in out
    # Acknowledging through event 3: a new default page starts after it; two remain overdue.
    run("compliance", "ack", "--recipient", "acme", "--through", "3")
    assert [e["event_id"] for e in feed(run)[0]] == [4, 5]
    out = run("compliance", "overdue", "--at", later, code=1).output
    assert " 2 " in out
    run("compliance", "ack", "--recipient", "acme", "--through", "5")
    run("compliance", "overdue", "--at", later)
    # Acknowledgements are checked.
    err = run("compliance", "ack", "--recipient", "acme", "--through", "99", code=2).output
    assert "no event 99" in err
    run("compliance", "feed", "--recipient", "nobody", code=2)
    run("compliance", "feed", "--recipient", "acme", "--since", "x", code=2)


def test_whereis_and_export_tell_the_truth(run: Run, tmp_path: Path) -> None:
    assert "No snapshot holds" in run("whereis", "a1").output
    run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    run("snapshot", "build", "--purpose", "train", "--out", "internal")
    found = json.loads(run("whereis", "a1", "--json").output)
    by_recipient = {s["recipient"]: s for s in found["snapshots"]}
    assert set(by_recipient) == {"acme", None}
    assert by_recipient["acme"]["records"] == 4 + 1  # p1..p4 and a1's like of q1
    assert by_recipient[None]["records"] == 5
    assert found["pending_events"] == 0

    run("consent", "deny", "a1", "train", "--scope", "assistant")
    found = json.loads(run("whereis", "a1", "--json").output)
    by_recipient = {s["recipient"]: s for s in found["snapshots"]}
    # The internal snapshot is held too (by the platform's own training team): told as well.
    for held in by_recipient.values():
        assert (held["deletion_events"], held["pending_events"]) == (2, 2)
    table = run("whereis", "a1").output
    assert all(line.split()[-2:] == ["2", "2"] for line in table.splitlines()[1:])

    report = json.loads(run("export", "a1").output)
    assert report["account_id"] == "a1" and report["known"] and not report["erased"]
    assert [h["decision"] for h in report["consent"]["history"] if h["kind"] == "consent"] == [
        "grant", "grant", "deny",
    ]  # fmt: skip
    assert {s["snapshot_id"] for s in report["snapshots"]} == {
        s["snapshot_id"] for s in found["snapshots"]
    }
    assert [r["name"] for r in report["recipients"]] == ["acme"]
    assert {(e["recipient"], e["record_id"]) for e in report["events"]} == {
        (holder, pseudonyms(holder).content(c)) for holder in ("acme", None) for c in ("p3", "p4")
    }
    assert not any(e["acknowledged"] for e in report["events"])
    # Other accounts' events are not in a1's report, nor a2's in a1's where-is.
    assert json.loads(run("whereis", "a4", "--json").output)["snapshots"][0]["recipient"] is None
    run("export", "a1", "--out", "a1.json")
    assert json.loads((tmp_path / "a1.json").read_text())["account_id"] == "a1"


def test_erasure(run: Run, tmp_path: Path) -> None:
    # A rejected row of a3 (impossible date) and one of a1 sit in the quarantine beforehand.
    bad = [
        post("bad3", "a3", text="secret words of a3", created_at="2024-02-30T00:00:00Z"),
        post("bad1", "a1", text="words of a1", created_at="2024-02-30T00:00:00Z"),
    ]
    # And a later copy, by a1, of a3's text: a duplicate, left out while a3's copy exists.
    dup = [post("p5", "a1", text="TEXT of s1,  all different", created_at="2024-03-09T00:00:00Z")]
    run("import", "canonical", str(write_export(tmp_path / "bad", CONTENT + bad + dup, ACCOUNTS)))
    quarantine = tmp_path / "ws" / "quarantine"
    before = "".join(p.read_text() for p in quarantine.glob("*.jsonl"))
    assert "secret words of a3" in before and "words of a1" in before
    run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    out = run("erase", "a3", "--yes").output
    assert "erased" in out
    certificate = json.loads(next((tmp_path / "ws" / "certificates").glob("*.json")).read_text())
    assert certificate["account_id"] == "a3"
    assert certificate["removed_from_content_store"]["versions"] == {
        "items": 3, "interactions": 1, "accounts": 1,
    }  # fmt: skip
    assert [s["recipient"] for s in certificate["snapshots"]] == ["acme"]
    assert certificate["recipients_notified"][0]["recipient"] == "acme"
    assert certificate["recipients_notified"][0]["events"] == 4  # r1, s1, s2, the like of p1
    assert "consent decisions" in certificate["retained"]
    assert certificate["quarantine_rows_removed"] == 1
    after = "".join(p.read_text() for p in quarantine.glob("*.jsonl"))
    assert "secret words of a3" not in after and "words of a1" in after
    events = all_events(run)
    assert {(e["record_id"], e["reason"]) for e in events} == {
        (record_id("r1"), "erasure"),
        (record_id("s1"), "erasure"),
        (record_id("s2"), "erasure"),
        (record_id("p1"), "erasure"),  # the interaction record: a3's like of p1
    }
    # Nothing of a3 is left in the content store.
    store = ContentStore(tmp_path / "ws" / "content")
    authors = {r["author_id"] for b in store.scan(["author_id"]) for r in b.to_pylist()}
    likers = {
        r["account_id"] for b in store.scan_interactions(["account_id"]) for r in b.to_pylist()
    }
    assert "a3" not in authors and "a3" not in likers
    assert "a3" not in store.account_ids().to_pylist()
    # Later snapshots never contain it, even after re-importing the original export.
    out = run("import", "canonical", str(tmp_path / "export")).output
    assert "rejected" in out
    kept = "".join(p.read_text() for p in quarantine.glob("*"))
    assert "text of s1" not in kept  # refused without being kept
    assert "a3" not in {r["author_id"] for b in store.scan(["author_id"]) for r in b.to_pylist()}
    assert record_id("p5") not in records_of(tmp_path / "s1")
    run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s2")
    assert not records_of(tmp_path / "s2") & {record_id(c) for c in ("r1", "s1", "s2")}
    assert record_id("p5") in records_of(tmp_path / "s2")  # the earliest copy now
    # The snapshot delivered before still verifies: its 3 erased records, and p5 (now the
    # earliest copy of a3's text), are reported as touched by the erasure, not as problems.
    out = run("snapshot", "verify", "s1").output
    assert "4 records touched by erasures since" in out
    # A second erasure finishes nothing new and says so; an unknown account is refused.
    run("erase", "a3", "--yes")
    assert len(all_events(run)) == 4
    run("erase", "nobody", "--yes", code=2)
    report = json.loads(run("export", "a3").output)
    assert report["erased"] and report["consent"]["history"]


def test_recipients_must_be_registered(run: Run) -> None:
    err = run(
        "snapshot", "build", "--purpose", "train", "--recipient", "other", "--out", "x", code=2
    ).output
    assert "consentry recipient add other" in err
    run("recipient", "add", "Bad Name", code=2)
    run("recipient", "add", "acme", code=2)  # already there
    run("recipient", "add", "ok", "--contact", "not-an-email", code=2)
    run("recipient", "add", "ok2", "--ack-days", "0", code=2)
    listed = run("recipient", "list").output
    assert "acme" in listed and "dpo@acme.example" in listed
    shown = json.loads(run("recipient", "show", "acme", "--json").output)
    assert shown["ack_days"] == 10 and shown["snapshots"] == []


def test_a_delivery_recorded_late_is_caught_up(run: Run) -> None:
    """A snapshot built as of a position before a withdrawal that was already scanned (an
    ``--as-of`` build; or a withdrawal made while a long build ran) still holds the withdrawn
    records: they get their events, once."""
    run("consent", "deny", "a1", "train", "--scope", "assistant")  # scanned at once
    entry = json.loads(run("export", "a1").output)["consent"]["history"][-1]["seq"]
    run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1",
        "--as-of", str(entry - 1))  # fmt: skip
    assert {record_id("p3"), record_id("p4")} <= records_of(Path("s1"))
    events = all_events(run)
    assert {(e["record_id"], e["reason"]) for e in events} == {
        (record_id("p3"), "consent_denied"),
        (record_id("p4"), "consent_denied"),
    }
    run("compliance", "scan")
    assert len(all_events(run)) == 2
