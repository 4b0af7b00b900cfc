"""Hypothesis: the compliance events are exactly the delivered records that a snapshot built at
some later ledger position would no longer hold, one each, for every holder: the recipient's
snapshot and the internal one alike. The oracle is the build itself, run as of each position
after the delivery — not the scanner's own logic."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consentry.compliance.deliveries import Deliveries
from consentry.compliance.erasure import erase
from consentry.compliance.feed import ComplianceFeed
from consentry.compliance.recipients import Recipients
from consentry.compliance.scanner import Scanner
from consentry.content.store import ContentStore
from consentry.ledger import AsOf, LedgerStore
from consentry.model import AccountChange, AccountStatus, ConsentDecision, Decision, Scope
from consentry.platform.canonical import import_canonical
from consentry.snapshot.build import BuildSpec
from consentry.snapshot.workspace_build import workspace_builder
from consentry.workspace import Workspace

ACCOUNTS = ["a0", "a1", "a2", "a3"]
KINDS = ["post", "reply", "assistant_prompt", "repost"]

item_st = st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(KINDS), st.integers(0, 9))
change_st = st.one_of(
    st.tuples(
        st.just("consent"),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(["train", "share"]),
        st.sampled_from([None, "posts", "assistant"]),
        st.sampled_from(["deny", "deny", "grant"]),
        st.sampled_from([None, "acme"]),
    ),
    st.tuples(
        st.just("account"),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(["protected", "deactivated", "deleted", "active"]),
    ),
    st.tuples(st.just("erase"), st.sampled_from(ACCOUNTS)),
)
HOLDERS: tuple[str | None, ...] = ("acme", None)  # None: the internal snapshot


def _export(folder: Path, items: list[tuple[str, str, int]]) -> None:
    folder.mkdir()
    accounts = [
        {"id": a, "handle": f"h{a}", "created_at": "2021-01-01T00:00:00Z", "country": "FR",
         "birth_date": "1990-01-01", "protected": False, "status": "active"}
        for a in ACCOUNTS
    ]  # fmt: skip
    content = []
    for i, (author, kind, ref) in enumerate(items):
        row: dict[str, Any] = {
            "id": f"c{i}",
            "author_id": author,
            "kind": kind,
            "text": f"unique text {i}",
            "created_at": f"2024-03-01T10:{i:02d}:00Z",
            "visibility": "direct" if kind == "assistant_prompt" else "public",
        }
        target = f"c{ref % max(i, 1)}" if i else None
        if kind == "reply":
            row["in_reply_to"] = target
        if kind == "repost":
            row["repost_of"] = target
        content.append(row)
    consent = [
        {"account_id": a, "purpose": p, "decision": "grant", "at": "2024-01-01T00:00:00Z",
         "source": "web"}
        for a in ACCOUNTS for p in ("train", "share")
    ]  # fmt: skip
    for name, rows in (("accounts", accounts), ("content", content), ("consent", consent)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _apply(ws: Workspace, ledger: LedgerStore, change: tuple[Any, ...], at: datetime) -> None:
    if change[0] == "erase":
        store = ContentStore(ws.content_dir)
        erase(ledger, store, ws.policy(), ws.secret(), change[1], ws.certificates_dir)
        return
    if change[0] == "consent":
        _, account, purpose, scope, decision, recipient = change
        ledger.append(
            [
                ConsentDecision(
                    account_id=account,
                    purpose=purpose,
                    decision=Decision(decision),
                    at=at,
                    scope=Scope(scope) if scope else None,
                    recipient=recipient if purpose == "share" else None,
                )
            ]
        )
        return
    _, account, what = change
    attrs: dict[str, object] = (
        {"protected": True} if what == "protected" else {"status": AccountStatus(what)}
    )
    ledger.append([AccountChange(account, at, attrs)])


def _records(
    ws: Workspace, ledger: LedgerStore, out: Path, seq: int | None, recipient: str | None
) -> set[str]:
    builder = workspace_builder(ws, ledger, recipient=recipient)
    spec = BuildSpec(purpose="train", out=out, recipient=recipient, as_of=AsOf(seq=seq))
    builder.build(spec)
    return set(pq.read_table(out / "data")["record_id"].to_pylist())


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    items=st.lists(item_st, min_size=3, max_size=14),
    changes=st.lists(change_st, min_size=1, max_size=5),
    scan_between=st.booleans(),
    few_accounts=st.sampled_from([0, 200]),  # every account's state, or the concerned ones'
)
@example(  # a chain of four reposts: the census once settled only three links
    items=[("a0", "repost", 0), ("a3", "repost", 0), ("a0", "repost", 1), ("a0", "post", 0),
           ("a0", "post", 0), ("a0", "post", 0), ("a0", "post", 0), ("a0", "repost", 9)],
    changes=[("consent", "a3", "train", None, "deny", None)],
    scan_between=False,
    few_accounts=0,
)  # fmt: skip
def test_events_are_what_later_snapshots_lose(
    items: list[tuple[str, str, int]],
    changes: list[tuple[Any, ...]],
    scan_between: bool,
    few_accounts: int,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _export(root / "export", items)
        ws = Workspace.init(root / "ws")
        import_canonical(ws, root / "export")
        with ws.ledger() as ledger:
            Recipients(ledger).add("acme")
            deliveries = {}
            delivered = {}
            for holder in HOLDERS:
                out = root / f"s0-{holder}"
                builder = workspace_builder(ws, ledger, recipient=holder)
                spec = BuildSpec(purpose="train", out=out, recipient=holder)
                deliveries[holder] = Deliveries(ledger, ws.deliveries_dir).build(builder, spec)[1]
                delivered[holder] = set(pq.read_table(out / "data")["record_id"].to_pylist())
            scanner = Scanner(ledger, ContentStore(ws.content_dir), ws.policy(), ws.secret())
            scanner.few_accounts = few_accounts
            at = datetime.now(UTC) - timedelta(minutes=1)
            positions = []
            for i, change in enumerate(changes):
                _apply(ws, ledger, change, at + timedelta(milliseconds=i))
                positions.append(ledger.head().seq)
                if scan_between:
                    scanner.run()
            scanner.run()
            for holder in HOLDERS:
                events, _ = ComplianceFeed(ledger).page(holder, "0", 100_000)
                notified = [e.record_id for e in events if e.table == "data"]
                assert len(notified) == len(set(notified)), "one event per record, ever"
                lost: set[str] = set()
                for seq in sorted(set(positions)):  # (erasing twice appends nothing)
                    later = _records(ws, ledger, root / f"at{seq}-{holder}", seq, holder)
                    lost |= delivered[holder] - later
                assert set(notified) == lost, holder
                assert all(e.snapshot_id == deliveries[holder].snapshot_id for e in events)
                assert all(e.recipient == holder for e in events)
