"""The PostgreSQL ledger's append notifications (migration 0012), for a worker's answer index.

A connection of its own LISTENs on the channel the ledger's insert trigger notifies: an append
wakes the worker at once instead of at its next look at the head. A notification only says
"the head moved"; what moved is read from the ledger (``LiveAnswers.refresh``), so one lost or
merged costs the wait for the next poll, never a wrong verdict.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg
from psycopg import sql

from consentry.ledger.postgres import PostgresLedger

#: The channel's name before the ledger table's oid (as the trigger spells it).
CHANNEL_PREFIX: Final = "consentry_ledger_"


class LedgerListener:
    """LISTEN on one PostgreSQL ledger's appends; ``wait`` returns when one arrives."""

    def __init__(self, ledger: PostgresLedger) -> None:
        self._conn: psycopg.Connection[Any] = psycopg.connect(ledger.url, autocommit=True)
        try:
            row = self._conn.execute("SELECT 'ledger_entries'::regclass::oid::text").fetchone()
            assert row is not None
            self.channel = f"{CHANNEL_PREFIX}{row[0]}"
            self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            self._conn.close()
            raise

    def wait(self, timeout: float) -> bool:
        """Whether an append was notified within ``timeout`` seconds (several notifications
        arriving together count as one: the reader catches up with the head anyway)."""
        # Drained, not abandoned half-way: the generator leaves the connection ready when it ends.
        got = list(self._conn.notifies(timeout=max(0.0, timeout), stop_after=1))
        if got:
            # The others already queued go too: left, each would wake the reader for a head
            # it has already caught up with (hundreds a second under a stream of changes).
            list(self._conn.notifies(timeout=0))
        return bool(got)

    def close(self) -> None:
        self._conn.close()
