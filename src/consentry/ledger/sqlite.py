"""The embedded default: the ledger in a SQLite file of the workspace.

Writers from several processes are serialised by ``BEGIN IMMEDIATE`` (SQLite's write lock): the
head is read and the new entries inserted under that lock, so the chain never forks. WAL mode
lets readers go on meanwhile; ``synchronous=FULL`` makes a commit durable before it is
acknowledged. Bulk reads go through ADBC, which hands rows to Arrow without Python objects.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa

from consentry.errors import LedgerBackendError, WorkspaceError
from consentry.ledger.entries import GENESIS_HASH, ROW_FIELDS, Row
from consentry.ledger.migrate import MIGRATIONS_TABLE, migrations
from consentry.ledger.store import LedgerStore

_INSERT = (
    f"INSERT INTO ledger_entries ({', '.join(ROW_FIELDS)})"
    f" VALUES ({', '.join('?' for _ in ROW_FIELDS)})"
)
BUSY_TIMEOUT_S = 60.0


class SqliteLedger(LedgerStore):
    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if not create and not self.path.exists():
            raise WorkspaceError(f"no ledger database at {self.path} (run `consentry init`)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise LedgerBackendError(f"cannot open SQLite ledger {self.path}: {exc}") from exc
        self._adbc: Any = None
        self._migrate()

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute(MIGRATIONS_TABLE)
        applied = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
        pending = [m for m in migrations("sqlite") if m.version not in applied]
        if not pending:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the lock: another process may have migrated meanwhile.
            applied = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
            for m in pending:
                if m.version in applied:
                    continue
                for statement in _statements(m.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (m.version, m.name, int(time.time() * 1e6)),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _append_locked(self, build: Callable[[int, bytes], list[Row]]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise LedgerBackendError(f"ledger {self.path} is locked: {exc}") from exc
        try:
            row = conn.execute(
                "SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            next_seq, prev = (int(row[0]) + 1, bytes(row[1])) if row else (1, GENESIS_HASH)
            conn.executemany(_INSERT, build(next_seq, prev))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def _query_arrow(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        if self._adbc is None:
            self._adbc = adbc_sqlite.connect(str(self.path), autocommit=True)
        with self._adbc.cursor() as cur:
            cur.execute(sql, parameters=tuple(params))
            table: pa.Table = cur.fetch_arrow_table()
        return table

    def close(self) -> None:
        if self._adbc is not None:
            self._adbc.close()
            self._adbc = None
        self._conn.close()


def _statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        statements.append(current.strip())
    return statements
