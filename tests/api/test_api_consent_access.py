"""The service's one-account read tells the same truth as the ledger's own state queries, for
any mix of scoped, unscoped, recipient and same-time decisions and country changes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.api.account_view import AccountView, read_account
from consentry.api.consent_access import PostgresAccess
from consentry.errors import LedgerBackendError, UsageError
from consentry.ledger import LedgerStore, open_ledger
from consentry.ledger.entries import Position
from consentry.model import AccountChange, ConsentDecision, Decision, Scope, Source

T0 = datetime(2024, 1, 1, tzinfo=UTC)
decision = st.builds(
    lambda purpose, scope, grant, minutes, to, source: ConsentDecision(
        "?",
        purpose,
        Decision.GRANT if grant else Decision.DENY,
        T0 + timedelta(minutes=minutes),
        scope=scope,
        recipient=to if purpose == "share" else None,
        source=source,
    ),
    st.sampled_from(["train", "share", "answer"]),
    st.none() | st.sampled_from(list(Scope)),
    st.booleans(),
    st.integers(0, 5),  # few distinct times: ties decided by ledger order
    st.none() | st.sampled_from(["acme", "other"]),
    st.sampled_from(list(Source)),
)
change = st.builds(
    lambda country, minutes: AccountChange(
        "?", T0 + timedelta(minutes=minutes), {"country": country}
    ),
    st.none() | st.sampled_from(["FR", "US", "DE"]),
    st.integers(0, 5),
)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[LedgerStore]:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", create=True) as store:
        yield store


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(decision | change, max_size=12), recipient=st.none() | st.just("acme"))
def test_same_truth_as_the_ledger(
    ledger: LedgerStore, items: list[ConsentDecision | AccountChange], recipient: str | None
) -> None:
    # One ledger for every example, a fresh account each: other accounts' entries are around.
    account = uuid.uuid4().hex
    ledger.append([AccountChange(account, T0 - timedelta(days=1), {"country": "GB"}, created=True)])
    ledger.append([replace(item, account_id=account) for item in items])
    view = read_account(ledger, account, recipient)
    truth = ledger.consent_state(account_id=account, recipient=recipient).to_pylist()
    states = ledger.account_states(account_id=account).to_pylist()
    assert view.head_seq == ledger.head().seq
    assert {(r["purpose"], r["scope"]): (r["decision"], r["seq"], r["at"]) for r in truth} == {
        k: (d.decision, d.seq, d.at) for k, d in view.decided.items()
    }
    assert view.country == states[0]["country"]
    # Where each decision in force came from, as the privacy center shows it.
    source_of = dict(
        ledger.query("SELECT seq, source FROM ledger_entries WHERE account_id = ?", (account,))
    )
    assert view.sources == {d.seq: source_of[d.seq] for d in view.decided.values()}
    assert view.known
    assert not read_account(ledger, uuid.uuid4().hex, recipient).known


@pytest.mark.postgres
@settings(max_examples=15, deadline=None)
@given(
    histories=st.lists(st.lists(decision | change, max_size=6), min_size=1, max_size=6),
    recipient=st.none() | st.just("acme"),
)
def test_batched_postgres_reads_tell_each_account_its_own_truth(
    postgres_schema_factory: Callable[[], str],
    histories: list[list[ConsentDecision | AccountChange]],
    recipient: str | None,
) -> None:
    """Concurrent reads share queries on PostgreSQL; each account still gets exactly the view
    that reading it alone gives (an account asked twice, or with no entry at all, included)."""
    url = postgres_schema_factory()
    accounts = [uuid.uuid4().hex for _ in histories]
    with open_ledger(url, create=True) as ledger:
        for account, items in zip(accounts, histories, strict=True):
            ledger.append([replace(item, account_id=account) for item in items])
        alone = [read_account(ledger, a, recipient) for a in accounts]
    asked = [*accounts, accounts[0], uuid.uuid4().hex]

    async def together() -> tuple[list[AccountView], int]:
        reader = PostgresAccess(url, size=1)
        await reader.open()
        try:
            views = await asyncio.gather(*(reader.read(a, recipient) for a in asked))
            return list(views), reader._batcher.calls
        finally:
            await reader.close()

    views, calls = asyncio.run(together())
    assert views[: len(accounts)] == alone
    assert views[len(accounts)] == alone[0]
    assert views[-1].decided == {} and not views[-1].known
    assert calls <= 2  # the first read alone, the rest together


@pytest.mark.postgres
def test_concurrent_api_appends_chain_in_order_and_each_is_told_its_own_entry(
    postgres_url: str,
) -> None:
    """Appends on the worker's event loop (lock released before the flush, answered after it)
    from many requests at once: every caller gets the position that holds its own decision, and
    the chain verifies."""
    with open_ledger(postgres_url, create=True) as ledger:
        start = ledger.head().seq
    now = datetime.now(UTC)
    decisions = [
        ConsentDecision(f"p{i}", "train", Decision.GRANT if i % 2 else Decision.DENY, now)
        for i in range(40)
    ]

    async def append_all() -> list[Position]:
        access = PostgresAccess(postgres_url, size=4)
        await access.open()
        try:
            return list(await asyncio.gather(*(access.append(d) for d in decisions)))
        finally:
            await access.close()

    positions = asyncio.run(append_all())
    assert sorted(p.seq for p in positions) == list(range(start + 1, start + 41))
    with open_ledger(postgres_url) as ledger:
        assert ledger.verify().entries == start + 40
        for d, p in zip(decisions, positions, strict=True):
            entry = ledger.entry(p.seq)
            assert (entry.account_id, entry.decision, entry.hash) == (
                d.account_id,
                d.decision.value,
                p.hash,
            )


@pytest.mark.postgres
def test_an_api_append_is_checked_as_the_ledgers_append_checks(postgres_url: str) -> None:
    future = ConsentDecision("p1", "train", Decision.GRANT, datetime.now(UTC) + timedelta(days=1))

    async def append() -> Position:
        access = PostgresAccess(postgres_url, size=1)
        await access.open()
        try:
            return await access.append(future)
        finally:
            await access.close()

    with open_ledger(postgres_url, create=True) as ledger:
        head = ledger.head()
    with pytest.raises(UsageError, match="in the future"):
        asyncio.run(append())
    with open_ledger(postgres_url) as ledger:
        assert ledger.head() == head


@pytest.mark.postgres
def test_a_failing_database_is_a_backend_error_for_reads_and_appends(postgres_url: str) -> None:
    """What the service turns into a 503 problem, as it does for the ledger's own errors."""
    with open_ledger(postgres_url, create=True):
        pass

    async def run() -> list[BaseException]:
        access = PostgresAccess(postgres_url, size=1)
        await access.open()
        try:
            async with access._pool.connection() as conn:
                await conn.execute("DROP TABLE ledger_entries CASCADE")
            decision = ConsentDecision("p1", "train", Decision.GRANT, datetime.now(UTC))
            outcomes = await asyncio.gather(
                access.read("p1", None), access.append(decision), return_exceptions=True
            )
            return [o for o in outcomes if isinstance(o, BaseException)]
        finally:
            await access.close()

    errors = asyncio.run(run())
    assert len(errors) == 2
    assert all(isinstance(e, LedgerBackendError) for e in errors)
    assert all("ledger_entries" in str(e) for e in errors)
