"""Helpers of the ledger suite: decisions dated in the past, and raw access to a backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import psycopg

from consentry.ledger import LedgerStore, open_ledger, sqlite_path
from consentry.model import ConsentDecision, Decision, Scope, Source

#: Decisions in tests are dated from here (the past, so that the clock-skew guard lets them in).
T0 = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def grant(
    account: str,
    purpose: str = "train",
    minutes: float = 0,
    *,
    scope: Scope | None = None,
    recipient: str | None = None,
) -> ConsentDecision:
    return ConsentDecision(
        account, purpose, Decision.GRANT, at(minutes), Source.WEB, scope, "2024-07", recipient
    )


def deny(
    account: str,
    purpose: str = "train",
    minutes: float = 0,
    *,
    scope: Scope | None = None,
    recipient: str | None = None,
) -> ConsentDecision:
    return ConsentDecision(
        account, purpose, Decision.DENY, at(minutes), Source.APP, scope, None, recipient
    )


@dataclass(frozen=True)
class Backend:
    """A ledger database, and raw SQL access to it behind the ledger's back (for tampering)."""

    name: str
    url: str

    def open(self) -> LedgerStore:
        return open_ledger(self.url, create=True)

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders) directly on the database, committed."""
        if self.name == "sqlite":
            # Through ADBC, as the ledger itself: the standard sqlite3 module links another copy
            # of SQLite, and two copies in one process must never open the same database.
            with (
                adbc_sqlite.connect(str(sqlite_path(self.url)), autocommit=True) as conn,
                conn.cursor() as cur,
            ):
                cur.execute(sql, parameters=tuple(params))
                return list(cur.fetchall()) if cur.description else []
        with psycopg.connect(self.url, autocommit=True) as pg:
            result = pg.execute(sql.replace("?", "%s"), tuple(params))
            return result.fetchall() if result.description else []
