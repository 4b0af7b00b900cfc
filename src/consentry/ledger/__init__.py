"""The tamper-evident consent ledger: one interface, SQLite (embedded) and PostgreSQL backends."""

from __future__ import annotations

from pathlib import Path

from consentry.db_urls import redact
from consentry.errors import UsageError
from consentry.ledger.entries import EMPTY_POSITION, EntryKind, LedgerEntry, Position
from consentry.ledger.store import AsOf, LedgerStore, Resolved, VerifyReport

__all__ = [
    "EMPTY_POSITION",
    "AsOf",
    "EntryKind",
    "LedgerEntry",
    "LedgerStore",
    "Position",
    "Resolved",
    "VerifyReport",
    "open_ledger",
    "sqlite_path",
]


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////absolute/path.db`` → the file's path."""
    rest = url.removeprefix("sqlite:///")
    if not rest or rest == ":memory:":
        raise UsageError(
            f"{url!r}: the ledger needs a file (an in-memory database is not shared between "
            "connections); use sqlite:///path/to/ledger.db"
        )
    return Path(rest)


def open_ledger(url: str, *, create: bool = False) -> LedgerStore:
    """Open the ledger named by a database URL (``sqlite:///…`` or ``postgresql://…``)."""
    if url.startswith("sqlite:///"):
        from consentry.ledger.sqlite import SqliteLedger

        return SqliteLedger(sqlite_path(url), create=create)
    if url.startswith(("postgresql://", "postgres://")):
        from consentry.ledger.postgres import PostgresLedger

        return PostgresLedger(url)
    raise UsageError(
        f"unsupported database URL {redact(url)!r}: expected sqlite:///path or postgresql://host/db"
    )
