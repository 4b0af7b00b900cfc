"""One account's consent view, read on the request path of ``GET /v1/me/consent``.

This is the service's hottest read, so it avoids what costs more than the query itself:
on PostgreSQL an asyncio connection pool (psycopg_pool) runs it on the worker's own event loop,
with no hop to a thread and back, and concurrent reads share queries (``Batcher``: one
statement, one head, the entries of every account asked for); SQLite, whose driver (ADBC) is
synchronous, reads through the worker's ledger pool in a thread. Both fold the same rows with
``fold_account``.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from psycopg_pool import AsyncConnectionPool
from starlette.concurrency import run_in_threadpool

from consentry.api.account_view import AccountView, fold_account, read_account
from consentry.api.batching import Batcher
from consentry.api.pool import LedgerPool

#: ``ACCOUNT_ROWS`` for several accounts at once; the last column says whose row it is.
_PG_BATCH: Final = (
    "SELECT '~head', '', '', '', '', coalesce(MAX(seq), 0), 0, 0, NULL, NULL FROM ledger_entries"
    " UNION ALL"
    " SELECT kind, coalesce(purpose, ''), coalesce(scope, ''), coalesce(decision, ''),"
    " coalesce(recipient, ''), seq, at_us, coalesce(attr_mask, 0), country, account_id"
    " FROM ledger_entries WHERE account_id = ANY(%s)"
)


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

        self._batcher: Batcher[tuple[str, str | None], AccountView] = Batcher(
            self._read_many, in_flight=size
        )

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)

    async def read(self, account_id: str, recipient: str | None) -> AccountView:
        return await self._batcher.submit((account_id, recipient))

    async def _read_many(self, asked: list[tuple[str, str | None]]) -> list[AccountView]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_PG_BATCH, (sorted({a for a, _ in asked}),))
            rows = await cursor.fetchall()
        head, entries = rows[0][:9], rows[1:]
        by_account: dict[str, list[tuple[Any, ...]]] = {}
        for row in entries:
            by_account.setdefault(row[9], [head]).append(row[:9])
        return [
            fold_account(by_account.get(account, [head]), account, recipient)
            for account, recipient in asked
        ]

    async def close(self) -> None:
        await self._pool.close()


async def open_reader(url: str, pool: LedgerPool, size: int) -> AccountReader:
    if url.startswith(("postgresql://", "postgres://")):
        reader = PostgresReader(url, size)
        await reader.open()
        return reader
    return ThreadedReader(pool)
