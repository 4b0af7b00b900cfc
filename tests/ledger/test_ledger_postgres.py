"""What only the PostgreSQL backend has: connection errors, the durability guard, migrations and
the per-ledger append lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
import pytest
from tests.ledger.ledger_support import deny, grant

from consentry.errors import LedgerBackendError
from consentry.ledger import Position, open_ledger
from consentry.ledger.migrate import migrations
from consentry.ledger.postgres import PostgresLedger, redact


def test_an_unreachable_server_is_a_backend_error_without_the_password() -> None:
    with pytest.raises(LedgerBackendError, match="cannot connect") as caught:
        open_ledger("postgresql://ledger:s3cret@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "s3cret" not in str(caught.value) and "ledger:***@" in str(caught.value)


def test_redact() -> None:
    assert redact("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact("postgresql://h/db?options=-csearch_path%3Dx") == (
        "postgresql://h/db?options=-csearch_path%3Dx"
    )


@pytest.mark.postgres
def test_a_server_that_may_lose_commits_is_refused(postgres_url: str) -> None:
    url = f"{postgres_url}%20-csynchronous_commit%3Doff"  # appended to the options
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
    with pytest.raises(LedgerBackendError, match="synchronous_commit=off"):
        PostgresLedger(url)


@pytest.mark.postgres
def test_migrations_are_applied_once(postgres_url: str) -> None:
    for _ in range(2):
        with open_ledger(postgres_url) as ledger:
            ledger.append([grant("alice")])
    with psycopg.connect(postgres_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in migrations("postgres")]


@pytest.mark.postgres
def test_two_ledgers_in_one_database_are_independent(
    postgres_schema_factory: Callable[[], str],
) -> None:
    first, second = postgres_schema_factory(), postgres_schema_factory()
    with open_ledger(first) as a, open_ledger(second) as b:
        a.append([grant("alice")])
        b.append([deny("bob"), deny("carol")])
        a.append([grant(f"x{i}") for i in range(3)])
        assert (a.verify().entries, b.verify().entries) == (4, 2)
        assert a.account_history("bob") == [] and b.account_history("alice") == []


@pytest.mark.postgres
def test_concurrent_single_appends_commit_together_and_share_their_fate(
    postgres_url: str,
) -> None:
    """Threads appending single entries at once are committed as a group. While another
    connection holds the ledger lock, the first caller leads (and waits); the next two queue
    behind it and go in one transaction afterwards: if that transaction fails, both callers get
    the error, and nothing of it is in the ledger."""
    from consentry.ledger.entries import decision_payload
    from consentry.ledger.postgres import _group_for

    ledger = PostgresLedger(postgres_url)
    good = decision_payload(grant("alice"), 0)
    bad = (None, *good[1:])  # kind NOT NULL: the database refuses this one
    results: dict[str, object] = {}

    def call(name: str, payload: tuple[object, ...]) -> None:
        try:
            results[name] = _group_for(postgres_url).append(ledger, payload)  # type: ignore[arg-type]
        except LedgerBackendError as exc:
            results[name] = exc

    with psycopg.connect(postgres_url) as blocker:
        blocker.execute("SELECT ledger_lock()")  # held until this transaction ends
        leader = threading.Thread(target=call, args=("leader", good))
        leader.start()
        wait_until(lambda: lock_waiters(blocker) == 1)
        followers = [
            threading.Thread(target=call, args=(name, payload))
            for name, payload in (("follower-bad", bad), ("follower-good", good))
        ]
        group = _group_for(postgres_url)
        for queued, follower in enumerate(followers, start=1):
            follower.start()
            wait_until(partial(lambda n: len(group._queue) == n, queued))  # in this order
        blocker.rollback()  # release the lock
    for t in [leader, *followers]:
        t.join(timeout=30)
    assert results["leader"] == Position(1, ledger.position_at(1).hash)
    assert isinstance(results["follower-bad"], LedgerBackendError)
    assert results["follower-good"] is results["follower-bad"]  # the same failed transaction
    assert ledger.verify().entries == 1
    ledger.close()


def lock_waiters(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchone()
    return int(row[0]) if row else 0


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _commit_mode(ledger: PostgresLedger) -> str:
    row = ledger._conn.execute("SHOW synchronous_commit").fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.postgres
def test_appends_leave_the_connection_committing_synchronously(postgres_url: str) -> None:
    """An append commits its own transaction without waiting for the disk, then flushes: the
    setting lasts that transaction only, whatever the path (one entry, a group, a bulk)."""
    with open_ledger(postgres_url) as ledger:
        assert isinstance(ledger, PostgresLedger)
        ledger.append([grant("alice")])
        assert _commit_mode(ledger) == "on"
        ledger.append([grant("bob"), deny("alice")])
        assert _commit_mode(ledger) == "on"
        ledger.append([grant(f"u{i}") for i in range(100)])  # COPY
        assert _commit_mode(ledger) == "on"
        assert ledger.verify().entries == 103


@pytest.mark.postgres
@pytest.mark.parametrize("count", [1, 3])
def test_an_append_inside_a_callers_transaction_is_part_of_it(
    postgres_url: str, count: int
) -> None:
    """Inside a caller's transaction the commit is the caller's: it stays synchronous, and a
    rollback takes the entries with it."""
    with open_ledger(postgres_url) as ledger:
        assert isinstance(ledger, PostgresLedger)
        head = ledger.append([grant("alice")])
        with pytest.raises(RuntimeError), ledger.transaction():
            ledger.append([grant(f"u{i}") for i in range(count)])
            assert _commit_mode(ledger) == "on"
            raise RuntimeError("the caller changes its mind")
        assert ledger.head() == head
        with ledger.transaction():
            ledger.append([grant(f"u{i}") for i in range(count)])
            assert _commit_mode(ledger) == "on"
        assert ledger.head().seq == head.seq + count
        assert ledger.verify().entries == head.seq + count
