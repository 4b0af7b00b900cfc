"""One account's consent view, read on the request path of ``GET /v1/me/consent``.

This is the service's hottest read, so it avoids what costs more than the query itself:
on PostgreSQL an asyncio connection pool (psycopg_pool) runs it on the worker's own event loop,
with no hop to a thread and back; SQLite, whose driver (ADBC) is synchronous, reads through the
worker's ledger pool in a thread. Both fold the same rows with ``fold_account``.
"""

from __future__ import annotations

from typing import Final, Protocol

from psycopg_pool import AsyncConnectionPool
from starlette.concurrency import run_in_threadpool

from consentry.api.account_view import ACCOUNT_ROWS, AccountView, fold_account, read_account
from consentry.api.pool import LedgerPool

_PG_ROWS: Final = ACCOUNT_ROWS.replace("?", "%s")


class AccountReader(Protocol):
    async def read(self, account_id: str, recipient: str | None) -> AccountView: ...

    async def close(self) -> None: ...


class ThreadedReader:
    def __init__(self, pool: LedgerPool) -> None:
        self._pool = pool

    async def read(self, account_id: str, recipient: str | None) -> AccountView:
        return await run_in_threadpool(self._read, account_id, recipient)

    def _read(self, account_id: str, recipient: str | None) -> AccountView:
        with self._pool.ledger() as ledger:
            return read_account(ledger, account_id, recipient)

    async def close(self) -> None:
        return None


class PostgresReader:
    def __init__(self, url: str, size: int) -> None:
        self._pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True},
            open=False,
            name="consentry-reads",
        )

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)

    async def read(self, account_id: str, recipient: str | None) -> AccountView:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_PG_ROWS, (account_id,))
            rows = await cursor.fetchall()
        return fold_account(rows, account_id, recipient)

    async def close(self) -> None:
        await self._pool.close()


async def open_reader(url: str, pool: LedgerPool, size: int) -> AccountReader:
    if url.startswith(("postgresql://", "postgres://")):
        reader = PostgresReader(url, size)
        await reader.open()
        return reader
    return ThreadedReader(pool)
