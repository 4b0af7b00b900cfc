"""Hypothesis over random platforms and consent histories: a snapshot holds exactly what consent
allows, as decided by a plain-Python reference written from docs/concepts.md, never more."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consentry.ledger import open_ledger
from consentry.model import AccountChange, ConsentDecision, Decision, Scope
from consentry.policy import load_policy
from consentry.snapshot.build import Builder, BuildSpec
from consentry.snapshot.executors import LocalExecutor
from consentry.snapshot.records import RecordMaker
from consentry.snapshot.source import MemorySource

from .conftest import T0, KeyedPseudonyms, content_table, no_scrub

ACCOUNTS = ["a0", "a1", "a2", "a3"]
account_st = st.fixed_dictionaries(
    {
        "birth": st.sampled_from([date(1990, 1, 1), date(2015, 1, 1), None]),
        "protected": st.booleans(),
        "status": st.sampled_from(["active", "active", "active", "deactivated", "deleted"]),
    }
)
decision_st = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from(["train", "share"]),
    st.sampled_from([None, "posts", "assistant", "interactions"]),
    st.sampled_from(["grant", "deny"]),
    st.integers(0, 4),
)
#: A reference to the next item: reposts of reposts of … make chains, which random targets
#: almost never do (a chain is where settling one link at a time goes wrong).
NEXT = -1
item_st = st.tuples(
    st.sampled_from([*ACCOUNTS, "ghost"]),
    st.sampled_from(["post", "reply", "repost", "repost", "dm", "assistant_prompt"]),
    st.sampled_from(["public", "public", "followers"]),
    st.booleans(),  # deleted
    st.sampled_from(["hello", "Hello ", "other", "third"]),
    st.one_of(st.integers(0, 9), st.just(NEXT)),  # reference target (replies and reposts)
)

POLICY = load_policy()


def _expected(
    accounts: dict[str, dict[str, Any]],
    decisions: list[tuple[str, str, str | None, str, int]],
    items: list[tuple[str, str, str, bool, str, int]],
    recipient: bool,
    on: date,
) -> set[str]:
    def latest(aid: str, purpose: str, scope: str) -> str | None:
        best: tuple[int, int, str] | None = None
        for seq, (a, p, s, d, at) in enumerate(decisions):
            covers = a == aid and p == purpose and s in (None, scope)
            if covers and (best is None or (at, seq) >= best[:2]):
                best = (at, seq, d)
        return best[2] if best else None

    def own_ok(i: int) -> bool:
        author, kind, vis, deleted, _, _ = items[i]
        acc = accounts.get(author)
        if acc is None or acc["status"] != "active" or acc["protected"]:
            return False
        if acc["birth"] is not None and acc["birth"] > on.replace(year=on.year - 18):
            return False
        if kind == "dm" or (vis != "public" and kind != "assistant_prompt") or deleted:
            return False
        scope = "assistant" if kind == "assistant_prompt" else "posts"
        if latest(author, "train", scope) != "grant":
            return False
        return not recipient or latest(author, "share", scope) == "grant"

    ok = {i for i in range(len(items)) if own_ok(i)}
    # Exact duplicates among eligible non-reposts: keep the earliest (items are in time order).
    seen: set[str] = set()
    for i in sorted(ok):
        if items[i][1] == "repost":
            continue
        text = " ".join(items[i][4].lower().split())
        if text in seen:
            ok.discard(i)
        seen.add(text)
    # A repost stands only with its original, which may itself be a repost: drop until
    # nothing changes, so that the end of a chain decides the whole chain.
    changed = True
    while changed:
        gone = {i for i in ok if items[i][1] == "repost" and items[i][5] not in ok}
        ok -= gone
        changed = bool(gone)
    return {f"c{i}" for i in ok}


def _resolve_references(
    items: list[tuple[str, str, str, bool, str, int]],
) -> list[tuple[str, str, str, bool, str, int]]:
    """Each item's reference as an index into ``items``, or -1 for none (a reference to itself
    or past the end names nothing)."""
    out = []
    for i, (a, k, v, d, t, r) in enumerate(items):
        target = i + 1 if r == NEXT else r
        out.append((a, k, v, d, t, target if target < len(items) and target != i else -1))
    return out


_ADULT: dict[str, Any] = {"birth": date(1990, 1, 1), "protected": False, "status": "active"}
_CHAIN = [
    ("a0", "repost", "public", False, "hello", 1),
    ("a0", "repost", "public", False, "other", 2),
    ("a0", "post", "public", True, "third", 0),
]


def test_the_reference_settles_a_chain_of_reposts_from_its_end() -> None:
    accounts = dict.fromkeys(ACCOUNTS, _ADULT)
    grant: list[tuple[str, str, str | None, str, int]] = [("a0", "train", None, "grant", 0)]
    assert _expected(accounts, grant, _CHAIN, False, date(2025, 1, 1)) == set()
    alive = [*_CHAIN[:2], ("a0", "post", "public", False, "third", 0)]
    assert _expected(accounts, grant, alive, False, date(2025, 1, 1)) == {"c0", "c1", "c2"}


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.fixed_dictionaries(dict.fromkeys(ACCOUNTS, account_st)),
    st.lists(decision_st, max_size=12),
    st.lists(item_st, min_size=1, max_size=10),
    st.booleans(),
)
@example(  # 0 reposts 1, which reposts 2, which is deleted: the whole chain stays out
    accounts=dict.fromkeys(ACCOUNTS, _ADULT),
    decisions=[("a0", "train", None, "grant", 0)],
    items=_CHAIN,
    recipient=False,
)
def test_snapshot_holds_exactly_the_consented_content(
    accounts: dict[str, dict[str, Any]],
    decisions: list[tuple[str, str, str | None, str, int]],
    items: list[tuple[str, str, str, bool, str, int]],
    recipient: bool,
) -> None:
    _holds_exactly_the_consented_content(accounts, decisions, items, recipient, workers=1)


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.fixed_dictionaries(dict.fromkeys(ACCOUNTS, account_st)),
    st.lists(decision_st, max_size=12),
    st.lists(item_st, min_size=1, max_size=10),
    st.booleans(),
    st.sampled_from([2, 3]),
)
def test_nothing_without_consent_whatever_the_worker_count(
    accounts: dict[str, dict[str, Any]],
    decisions: list[tuple[str, str, str | None, str, int]],
    items: list[tuple[str, str, str, bool, str, int]],
    recipient: bool,
    workers: int,
) -> None:
    # Few examples: each starts its own worker processes (the invariant itself is searched at
    # length above, in one process; here, that the same holds when tasks are spread out).
    _holds_exactly_the_consented_content(accounts, decisions, items, recipient, workers=workers)


def _holds_exactly_the_consented_content(
    accounts: dict[str, dict[str, Any]],
    decisions: list[tuple[str, str, str | None, str, int]],
    items: list[tuple[str, str, str, bool, str, int]],
    recipient: bool,
    *,
    workers: int,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(f"sqlite:///{Path(tmp) / 'l.db'}", create=True)
        entries: list[AccountChange | ConsentDecision] = [
            AccountChange(
                a,
                T0,
                {
                    "country": "FR",
                    "birth_date": v["birth"],
                    "protected": v["protected"],
                    "status": v["status"],
                },
                created=True,
            )
            for a, v in accounts.items()
        ]
        entries += [
            ConsentDecision(
                a, p, Decision(d), T0 + timedelta(hours=at), scope=Scope(s) if s else None
            )
            for a, p, s, d, at in decisions
        ]
        ledger.append(entries)
        schema = content_table().schema
        rows = []
        items = _resolve_references(items)
        for i, (author, kind, vis, deleted, text, ref) in enumerate(items):
            target = f"c{ref}" if ref >= 0 else None
            rows.append(
                {
                    "content_id": f"c{i}",
                    "author_id": author,
                    "kind": kind,
                    "text": text,
                    "created_at": T0 + timedelta(minutes=i),
                    "lang": "en",
                    "visibility": vis,
                    "in_reply_to": target if kind == "reply" else None,
                    "quote_of": None,
                    "repost_of": target if kind == "repost" else None,
                    "conversation_id": None,
                    "deleted_at": T0 if deleted else None,
                }
            )
        pseudo = KeyedPseudonyms(b"p" * 32)
        builder = Builder(
            ledger=ledger,
            policy=POLICY,
            source=MemorySource(pa.Table.from_pylist(rows, schema=schema)),
            maker=RecordMaker(pseudo, no_scrub, "day"),
            key_fingerprint=hashlib.sha256(b"p").hexdigest()[:8],
            executor=LocalExecutor(workers),
        )
        result = builder.build(
            BuildSpec(
                purpose="train",
                recipient="acme" if recipient else None,
                out=Path(tmp) / "snap",
                batch_size=3,
                shard_rows=4,
            )
        )
        on = datetime.fromisoformat(result.manifest.ledger["as_of"]).astimezone(UTC).date()
        expected = _expected(accounts, decisions, items, recipient, on)
        got = set(pq.read_table(Path(tmp) / "snap" / "data")["record_id"].to_pylist())
        want = set(pseudo.contents(pa.array(sorted(expected), pa.string())).to_pylist())
        assert got == want
        assert result.manifest.counts["included"] == len(expected)
        assert result.manifest.counts["included"] + sum(
            result.manifest.counts["excluded"].values()
        ) == len(items)
        ledger.close()
