"""A person's consent on the request path: the view ``GET /v1/me/consent`` reads and the
decision ``PUT /v1/me/consent/{purpose}`` appends.

These are the service's hottest routes, so they avoid what costs more than the queries
themselves. On PostgreSQL an asyncio connection pool (psycopg_pool) runs both on the worker's
own event loop, with no hop to a thread and back: concurrent reads share queries (``Batcher``:
one statement, one head, the entries of every account asked for), and an append is the
ledger's own one-entry append (``ledger.postgres.APPEND_ONE`` then ``FLUSH``, pipelined: the
chain's lock is released before the disk flush, the person answered after it). SQLite, whose
driver (ADBC) is synchronous, goes through the worker's ledger pool in a thread. Reads fold the
same rows with ``fold_account`` on both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final, Protocol

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.concurrency import run_in_threadpool

from consentry.api.account_view import (
    ROW_WIDTH,
    AccountView,
    account_rows,
    fold_account,
    read_account,
)
from consentry.api.batching import Batcher
from consentry.api.pool import LedgerPool
from consentry.db_urls import redact, redact_text
from consentry.errors import LedgerBackendError
from consentry.ledger.entries import Position
from consentry.ledger.postgres import APPEND_ONE, FLUSH, append_one_params
from consentry.ledger.store import HEAD, validated_payload
from consentry.model import ConsentDecision

#: ``ACCOUNT_ROWS`` for several accounts at once; the last column says whose row it is.
_PG_BATCH: Final = account_rows("account_id = ANY(%s)", tagged=True)


class ConsentAccess(Protocol):
    async def read(self, account_id: str, recipient: str | None) -> AccountView: ...

    async def append(self, decision: ConsentDecision) -> Position:
        """Append one decision; returns once it is durable, with its position."""
        ...

    async def head_seq(self) -> int:
        """The ledger's head position (``/healthz``: the database answers)."""
        ...

    async def close(self) -> None: ...


class ThreadedAccess:
    def __init__(self, pool: LedgerPool) -> None:
        self._pool = pool

    async def read(self, account_id: str, recipient: str | None) -> AccountView:
        return await run_in_threadpool(self._read, account_id, recipient)

    def _read(self, account_id: str, recipient: str | None) -> AccountView:
        with self._pool.ledger() as ledger:
            return read_account(ledger, account_id, recipient)

    async def append(self, decision: ConsentDecision) -> Position:
        return await run_in_threadpool(self._append, decision)

    def _append(self, decision: ConsentDecision) -> Position:
        with self._pool.ledger() as ledger:
            return ledger.append([decision])

    async def head_seq(self) -> int:
        return await run_in_threadpool(self._head_seq)

    def _head_seq(self) -> int:
        with self._pool.ledger() as ledger:
            return ledger.head().seq

    async def close(self) -> None:
        return None


class PostgresAccess:
    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True},
            open=False,
            name="consentry-consent",
        )

        self._batcher: Batcher[tuple[str, str | None], AccountView] = Batcher(
            self._read_many, in_flight=size
        )

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)

    async def read(self, account_id: str, recipient: str | None) -> AccountView:
        return await self._batcher.submit((account_id, recipient))

    @asynccontextmanager
    async def _connection(self, doing: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; a driver or pool failure becomes ``LedgerBackendError`` (a 503
        problem), as it does through ``PostgresLedger``."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (psycopg.Error, PoolTimeout) as exc:
            raise LedgerBackendError(
                f"{doing} the PostgreSQL ledger {redact(self._url)}: "
                f"{redact_text(str(exc), self._url)}"
            ) from exc

    async def _read_many(self, asked: list[tuple[str, str | None]]) -> list[AccountView]:
        async with self._connection("reading") as conn:
            cursor = await conn.execute(_PG_BATCH, (sorted({a for a, _ in asked}),))
            rows = await cursor.fetchall()
        head, entries = rows[0][:ROW_WIDTH], rows[1:]
        by_account: dict[str, list[tuple[Any, ...]]] = {}
        for row in entries:
            by_account.setdefault(row[ROW_WIDTH], [head]).append(row[:ROW_WIDTH])
        return [
            fold_account(by_account.get(account, [head]), account, recipient)
            for account, recipient in asked
        ]

    async def append(self, decision: ConsentDecision) -> Position:
        params = append_one_params(validated_payload(decision))
        async with self._connection("appending to") as conn:
            async with conn.pipeline() as pipeline:
                appended = await conn.execute(APPEND_ONE, params)
                await pipeline.sync()  # FLUSH must run in a transaction of its own
                await conn.execute(FLUSH)
            row = await appended.fetchone()
        assert row is not None
        return Position(int(row[0]), bytes(row[1]).hex())

    async def head_seq(self) -> int:
        async with self._connection("reading") as conn:
            cursor = await conn.execute(HEAD)
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def close(self) -> None:
        await self._pool.close()


async def open_access(url: str, pool: LedgerPool, size: int) -> ConsentAccess:
    if url.startswith(("postgresql://", "postgres://")):
        access = PostgresAccess(url, size)
        await access.open()
        return access
    return ThreadedAccess(pool)
