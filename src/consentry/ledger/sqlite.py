"""The embedded default: the ledger in a SQLite file of the workspace.

Every access goes through one driver, ADBC's SQLite, which hands rows to Arrow without Python
objects. Why not also the standard ``sqlite3`` module: ADBC links its own copy of SQLite, and two
copies of SQLite in one process must never open the same database — POSIX locks belong to the
process, so one copy closing a file silently drops the other's locks, which can corrupt a WAL
database (sqlite.org, "How To Corrupt An SQLite Database File", §2.2.1).

Writers from several processes are serialised by ``BEGIN IMMEDIATE`` (SQLite's write lock): the
head is read and the new entries inserted under that lock, so the chain never forks. WAL mode
lets readers go on meanwhile; ``synchronous=FULL`` makes a commit durable before it is
acknowledged.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa

from consentry.errors import LedgerBackendError, WorkspaceError
from consentry.ledger.entries import GENESIS_HASH, ROW_FIELDS, Row
from consentry.ledger.migrate import MIGRATIONS_TABLE, migrations
from consentry.ledger.store import HEAD, LedgerStore

_INSERT: Final = (
    f"INSERT INTO ledger_entries ({', '.join(ROW_FIELDS)})"
    f" VALUES ({', '.join('?' for _ in ROW_FIELDS)})"
)
BUSY_TIMEOUT_MS: Final = 60_000
_TEXT, _INT, _BLOB = pa.string(), pa.int64(), pa.binary()
ROW_SCHEMA: Final = pa.schema(
    [
        ("seq", _INT),
        ("kind", _TEXT),
        ("account_id", _TEXT),
        ("purpose", _TEXT),
        ("scope", _TEXT),
        ("decision", _TEXT),
        ("recipient", _TEXT),
        ("source", _TEXT),
        ("notice_version", _TEXT),
        ("attr_mask", _INT),
        ("country", _TEXT),
        ("birth_date", _TEXT),
        ("protected", _INT),
        ("status", _TEXT),
        ("at_us", _INT),
        ("recorded_us", _INT),
        ("salt", _BLOB),
        ("payload_hash", _BLOB),
        ("prev_hash", _BLOB),
        ("hash", _BLOB),
    ]
)
assert tuple(ROW_SCHEMA.names) == ROW_FIELDS


class SqliteLedger(LedgerStore):
    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._in_transaction = False
        if not create and not self.path.exists():
            raise WorkspaceError(f"no ledger database at {self.path} (run `consentry init`)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn: Any = adbc_sqlite.connect(str(self.path), autocommit=True)
            self._execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._execute("PRAGMA journal_mode=WAL")
            self._execute("PRAGMA synchronous=FULL")
        except Exception as exc:
            raise LedgerBackendError(f"cannot open SQLite ledger {self.path}: {exc}") from exc
        self._migrate()

    def _execute(self, sql: str, params: Sequence[object] | pa.Table = ()) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cur:
            cur.execute(sql, parameters=params if isinstance(params, pa.Table) else tuple(params))
            return list(cur.fetchall()) if cur.description else []

    def _migrate(self) -> None:
        self._execute(MIGRATIONS_TABLE)
        applied = {int(r[0]) for r in self._execute("SELECT version FROM schema_migrations")}
        pending = [m for m in migrations("sqlite") if m.version not in applied]
        if not pending:
            return
        self._execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the lock: another process may have migrated meanwhile.
            applied = {int(r[0]) for r in self._execute("SELECT version FROM schema_migrations")}
            for m in pending:
                if m.version in applied:
                    continue
                for statement in _statements(m.sql):
                    self._execute(statement)
                self._execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (m.version, m.name, int(time.time() * 1e6)),
                )
            self._execute("COMMIT")
        except BaseException:
            self._execute("ROLLBACK")
            raise

    def _append_locked(self, build: Callable[[int, bytes], list[Row]]) -> None:
        try:
            self._execute("BEGIN IMMEDIATE")
        except Exception as exc:
            raise LedgerBackendError(f"ledger {self.path} is locked: {exc}") from exc
        try:
            row = self._execute(HEAD)
            next_seq, prev = (int(row[0][0]) + 1, bytes(row[0][1])) if row else (1, GENESIS_HASH)
            rows = build(next_seq, prev)
            if rows:
                # Bound as one Arrow table: the driver inserts it in C, in one statement.
                columns = zip(*rows, strict=True)
                table = pa.table(
                    [
                        pa.array(col, type=f.type)
                        for col, f in zip(columns, ROW_SCHEMA, strict=True)
                    ],
                    schema=ROW_SCHEMA,
                )
                self._execute(_INSERT, table)
            self._execute("COMMIT")
        except BaseException:
            self._execute("ROLLBACK")
            raise

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._execute(sql, params)

    def _write(self, sql: str, params: Sequence[object] = ()) -> None:
        self._execute(sql, params)

    def _query_arrow(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        with self._conn.cursor() as cur:
            cur.execute(sql, parameters=tuple(params))
            table: pa.Table = cur.fetch_arrow_table()
        return table

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_transaction:  # nested: part of the enclosing one
            yield
            return
        try:
            self._execute("BEGIN IMMEDIATE")
        except Exception as exc:
            raise LedgerBackendError(f"database {self.path} is locked: {exc}") from exc
        self._in_transaction = True
        try:
            yield
            self._execute("COMMIT")
        except BaseException:
            self._execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        names = ", ".join(data.column_names)
        marks = ", ".join("?" for _ in data.column_names)
        # Bound as one Arrow table: the driver runs the insert for every row in C.
        with self.transaction():
            self._execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", data)

    def close(self) -> None:
        self._conn.close()


def _statements(script: str) -> list[str]:
    # ``complete_statement`` only parses text: no database is opened with the second library.
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
