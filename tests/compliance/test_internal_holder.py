"""The platform's own training team holds the internal snapshots (built without --recipient):
it is told what to delete like any recipient, on its own feed, cursor and acknowledgements, and
where-is, the art. 15 export and `compliance overdue` count it. And the compliance commands
refuse numbers no event, page or deadline can have, with a clear message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.compliance.conftest import Run, account_pseudonym, all_events, feed, pseudonyms

INTERNAL = ("snapshot", "build", "--purpose", "train", "--out", "internal")
FOR_ACME = ("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")


def internal_id(cid: str) -> str:
    return pseudonyms(None).content(cid)


def test_internal_snapshots_have_their_own_feed(run: Run, tmp_path: Path) -> None:
    run(*INTERNAL)
    run(*FOR_ACME)
    run("consent", "deny", "a1", "train")  # p1..p4 and a1's like of q1, in both snapshots
    internal, cursor = feed(run, "--internal", "--limit", "3")
    rest, _ = feed(run, "--internal", "--since", cursor)
    events = internal + rest
    assert {(e["table"], e["record_id"], e.get("account")) for e in events} == {
        *(("data", internal_id(c), None) for c in ("p1", "p2", "p3", "p4")),
        ("interactions", internal_id("q1"), pseudonyms(None).account("a1")),
    }
    assert all(e["reason"] == "consent_denied" for e in events)
    # The recipient's feed holds its own records only, under its own pseudonyms.
    acme = all_events(run)
    assert len(acme) == 5 and account_pseudonym("a1") in {e.get("account") for e in acme}
    assert not {e["record_id"] for e in acme} & {e["record_id"] for e in events}

    # Acknowledgements are per holder: the internal ones leave acme's pending.
    last = max(e["event_id"] for e in events)
    run("compliance", "ack", "--internal", "--through", str(last))
    assert feed(run, "--internal")[0] == []
    assert len(feed(run)[0]) == 5
    err = run("compliance", "ack", "--internal", "--through", str(last + 100), code=2).output
    assert "(internal) has no event" in err
    run("compliance", "feed", code=2)  # neither --recipient nor --internal
    run("compliance", "feed", "--recipient", "acme", "--internal", code=2)

    found = json.loads(run("whereis", "a1", "--json").output)
    counts = {
        s["recipient"]: (s["deletion_events"], s["pending_events"]) for s in found["snapshots"]
    }
    assert counts == {None: (5, 0), "acme": (5, 5)}
    report = json.loads(run("export", "a1").output)
    held = {(e["recipient"], e["acknowledged"]) for e in report["events"]}
    assert held == {(None, True), ("acme", False)}
    assert {s["recipient"] for s in report["snapshots"]} == {None, "acme"}


def test_overdue_counts_internal_events(run: Run) -> None:
    run(*INTERNAL)
    run("consent", "deny", "a2", "train")  # q1, q2 and a3's repost of q1
    assert len(feed(run, "--internal", "--since", "0")[0]) == 3
    run("compliance", "overdue")
    # The default deadline (30 days) applies to the internal snapshots.
    soon = (datetime.now(UTC) + timedelta(days=29)).isoformat()
    run("compliance", "overdue", "--at", soon)
    later = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    out = run("compliance", "overdue", "--at", later, code=1).output
    assert "(internal)" in out and " 3 " in out
    run("compliance", "ack", "--internal", "--through", "3")
    run("compliance", "overdue", "--at", later)


def test_erasure_certificate_names_the_internal_holder(run: Run, tmp_path: Path) -> None:
    run(*INTERNAL)
    run("erase", "a3", "--yes")
    (path,) = (tmp_path / "ws" / "certificates").iterdir()
    certificate = json.loads(path.read_text())
    assert [s["recipient"] for s in certificate["snapshots"]] == [None]
    assert certificate["recipients_notified"] == [
        {"recipient": None, "events": 4, "first_event": 1, "last_event": 4}
    ]
    assert {e["reason"] for e in feed(run, "--internal", "--since", "0")[0]} == {"erasure"}


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "args",
    [
        ("compliance", "feed", "--recipient", "acme", "--since", HUGE),
        ("compliance", "feed", "--internal", "--since", HUGE),
        ("compliance", "feed", "--recipient", "acme", "--since", "²"),
        ("compliance", "feed", "--recipient", "acme", "--limit", HUGE),
        ("compliance", "feed", "--recipient", "acme", "--limit", "-" + HUGE),
        ("compliance", "ack", "--recipient", "acme", "--through", HUGE),
        ("compliance", "ack", "--internal", "--through", "-" + HUGE),
        ("recipient", "add", "big", "--ack-days", HUGE),
        ("recipient", "add", "big", "--ack-days", "3651"),
    ],
)
def test_oversized_numbers_are_refused_clearly(run: Run, args: tuple[str, ...]) -> None:
    run(*FOR_ACME)
    run("consent", "deny", "a1", "train")
    result = run(*args, code=2)
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert "Traceback" not in result.output
    assert any(word in result.output for word in ("cursor", "--limit", "--through", "--ack-days"))
    run("compliance", "overdue")  # and nothing was stored that breaks the deadlines
