"""Decision de-duplication against what the ledger already holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from consentry.ledger import open_ledger
from consentry.model import ConsentDecision, Decision, Scope
from consentry.platform.ledger_sync import DecisionSync

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_scoped_decision_after_many_unscoped_ones(tmp_path: Path) -> None:
    """SQLite's Arrow driver types a column from its first rows: a ledger whose first thousand
    decisions have no scope, then one that has, must still be read."""
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}", create=True)
    ledger.append(
        [
            ConsentDecision(f"a{i}", "train", Decision.GRANT, T0 + timedelta(seconds=i))
            for i in range(3000)
        ]
        + [ConsentDecision("b", "train", Decision.DENY, T0, scope=Scope.ASSISTANT)]
    )
    sync = DecisionSync(ledger)
    batch = pa.table(
        {
            "account_id": ["b", "b"],
            "purpose": ["train", "train"],
            "scope": ["assistant", "posts"],
            "decision": ["deny", "deny"],
            "at": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
            "source": ["cli", "cli"],
            "recipient": pa.nulls(2, pa.string()),
        }
    )
    # The scoped deny is already in the ledger; the same deny for posts is new.
    assert sync.fresh(batch).tolist() == [False, True]
    assert ledger.decisions().num_rows == 3001
