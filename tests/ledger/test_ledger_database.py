"""The companion-table seam: other parts keep their tables in the ledger's database."""

from __future__ import annotations

import pyarrow as pa
import pytest

from consentry.ledger import LedgerStore


def _table(ledger: LedgerStore) -> None:
    ledger.execute("CREATE TABLE IF NOT EXISTS t_companion (id BIGINT PRIMARY KEY, name TEXT)")


def test_transaction_commits_together(ledger: LedgerStore) -> None:
    _table(ledger)
    with ledger.transaction():
        ledger.execute("INSERT INTO t_companion VALUES (?, ?)", (1, "a"))
        ledger.execute("INSERT INTO t_companion VALUES (?, ?)", (2, "b"))
    assert ledger.query("SELECT id, name FROM t_companion ORDER BY id") == [(1, "a"), (2, "b")]


def test_transaction_rolls_back_on_error(ledger: LedgerStore) -> None:
    _table(ledger)
    with pytest.raises(RuntimeError), ledger.transaction():
        ledger.execute("INSERT INTO t_companion VALUES (?, ?)", (1, "a"))
        raise RuntimeError("boom")
    assert ledger.query("SELECT COUNT(*) FROM t_companion")[0][0] == 0
    # The connection is usable again afterwards.
    ledger.execute("INSERT INTO t_companion VALUES (?, ?)", (3, "c"))
    assert ledger.query("SELECT name FROM t_companion WHERE id = ?", (3,)) == [("c",)]


def test_insert_arrow_and_read_back(ledger: LedgerStore) -> None:
    _table(ledger)
    data = pa.table(
        {"id": pa.array(range(1000), pa.int64()), "name": [f"n{i}" for i in range(1000)]}
    )
    ledger.insert_arrow("t_companion", data)
    ledger.insert_arrow("t_companion", data.slice(0, 0))  # nothing to insert: a no-op
    back = ledger.query_arrow("SELECT id, name FROM t_companion WHERE id >= ? ORDER BY id", (990,))
    assert back.column("id").to_pylist() == list(range(990, 1000))
    assert back.column("name").to_pylist()[0] == "n990"
