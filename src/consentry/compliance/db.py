"""What compliance needs of the workspace database beyond the ledger's companion-table calls."""

from __future__ import annotations

from consentry.ledger import LedgerStore


def is_postgres(ledger: LedgerStore) -> bool:
    return ledger.placeholder != "?"


def lock(ledger: LedgerStore, name: str) -> None:
    """Serialise writers of one kind (inside ``ledger.transaction()``). SQLite's write
    transaction is already exclusive; PostgreSQL needs an advisory lock, released at commit."""
    if is_postgres(ledger):
        ledger.execute("SELECT pg_advisory_xact_lock(1131376245, hashtext(?))", (name,))


def next_id(ledger: LedgerStore, table: str, column: str) -> int:
    """The next id of ``table`` (call under ``lock``: ids are dense and in commit order, which
    cursors rely on)."""
    rows = ledger.query(f"SELECT COALESCE(MAX({column}), 0) FROM {table}")
    return int(rows[0][0]) + 1
