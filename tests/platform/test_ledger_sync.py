"""What an import appends to the ledger: account entries for what changed, decisions not
already there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.ledger import open_ledger
from consentry.model import AccountChange, ConsentDecision, Decision, Scope
from consentry.platform import ledger_sync
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


# ---- accounts ------------------------------------------------------------------------------

POOL = [f"acct{i}" for i in range(12)]
STATES = st.tuples(
    st.sampled_from(["DE", "FR", None]), st.booleans(), st.sampled_from(["active", "suspended"])
)


def _accounts(rows: list[tuple[str, tuple[str | None, bool, str]]]) -> pa.Table:
    return pa.table(
        {
            "account_id": pa.array([r[0] for r in rows], pa.string()),
            "created_at": pa.array([T0] * len(rows), pa.timestamp("us", tz="UTC")),
            "country": pa.array([r[1][0] for r in rows], pa.string()),
            "birth_date": pa.array([None] * len(rows), pa.date32()),
            "protected": pa.array([r[1][1] for r in rows], pa.bool_()),
            "status": pa.array([r[1][2] for r in rows], pa.string()),
        }
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.sampled_from(POOL), STATES), max_size=6),
    st.lists(st.lists(st.tuples(st.sampled_from(POOL), STATES), max_size=8), max_size=6),
    st.booleans(),
)
def test_account_entries_are_those_a_dict_of_current_states_calls_for(
    tmp_path_factory: pytest.TempPathFactory,
    known: list[tuple[str, tuple[str | None, bool, str]]],
    batches: list[list[tuple[str, tuple[str | None, bool, str]]]],
    collide: bool,
) -> None:
    """Batch after batch of one import (an account may come again in a later batch, or twice
    in one), against the ledger's accounts: a creation for an account never seen, a change
    naming exactly the attributes that differ from its current state (this import's latest,
    else the ledger's), nothing otherwise. The oracle is a dict of current states. With
    ``collide``, every id hashes alike: the ids decide."""
    ledger = open_ledger(f"sqlite:///{tmp_path_factory.mktemp('l') / 'l.db'}", create=True)
    current: dict[str, tuple[str | None, bool, str]] = {}
    changes = []
    for aid, (country, protected, status) in known:
        attrs = {"country": country, "protected": protected, "status": status}
        changes.append(AccountChange(aid, T0, attrs, created=aid not in current))
        current[aid] = (country, protected, status)
    if changes:
        ledger.append(changes)
    with pytest.MonkeyPatch.context() as mp:
        if collide:
            mp.setattr(ledger_sync, "hash_ids", lambda ids: np.zeros(len(ids), np.uint64))
        sync = ledger_sync.AccountSync(ledger, T0 + timedelta(days=1))
        for batch in batches:
            got, _ = sync.changes(_accounts(batch))
            last = dict(batch)  # a batch's last row per account
            want = []
            for aid in dict.fromkeys(a for a, _ in batch):
                state = last[aid]
                if aid not in current:
                    want.append((aid, True, 0b1111))
                else:
                    old = current[aid]
                    mask = (
                        (old[0] != state[0]) | (old[1] != state[1]) << 2 | (old[2] != state[2]) << 3
                    )
                    if mask:
                        want.append((aid, False, mask))
                current[aid] = state
            rows = zip(
                got["account_id"].to_pylist(),
                got["created"].to_pylist(),
                got["attr_mask"].to_pylist(),
                strict=True,
            )
            assert sorted(rows) == sorted(want)
