"""The build's ledger state, written partitioned straight from the ledger: window by window and
partition by partition, so that no read (the parent's nor a worker's) holds every account; and
the same state the ledger's own whole-state queries give (the oracle)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.content.buckets import hash_ids
from consentry.ledger import open_ledger
from consentry.ledger.store import AsOf, LedgerStore, Resolved
from consentry.model import AccountChange, ConsentDecision, Decision, Scope
from consentry.policy.frame import StateIndex
from consentry.snapshot import state_parts
from consentry.snapshot.state_parts import export_state, partitions_for, read_state

T0 = datetime(2025, 1, 1, tzinfo=UTC)
ACCOUNTS = 300


def _ledger(path: Path) -> LedgerStore:
    store = open_ledger(f"sqlite:///{path}", create=True)
    items: list[ConsentDecision | AccountChange] = []
    for i in range(ACCOUNTS):
        aid = f"acct{i:05d}"
        items.append(
            AccountChange(
                aid,
                T0 - timedelta(days=400),
                {
                    "country": ("DE", "US", "FR")[i % 3],
                    "birth_date": date(1970 + i % 50, 1, 1),
                    "protected": i % 7 == 0,
                    "status": "active",
                },
                created=True,
            )
        )
        items.append(ConsentDecision(aid, "train", Decision.GRANT, T0 + timedelta(seconds=i)))
        if i % 3 == 0:  # a later, narrower decision: the fold must see both, in order
            items.append(
                ConsentDecision(
                    aid, "train", Decision.DENY, T0 + timedelta(days=1), scope=Scope.ASSISTANT
                )
            )
        if i % 5 == 0:
            items.append(ConsentDecision(aid, "share", Decision.GRANT, T0))
        if i % 4 == 0:  # a recipient's own decisions: counted only when that recipient asks
            who = "lab" if i % 8 == 0 else "other"
            items.append(
                ConsentDecision(aid, "share", Decision.DENY, T0 + timedelta(hours=1), recipient=who)
            )
    store.append(items)
    return store


def _sorted(table: pa.Table, *keys: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.sort_by([(k, "ascending") for k in keys]).to_pylist()
    return rows


@pytest.fixture
def ledger(tmp_path: Path) -> LedgerStore:
    return _ledger(tmp_path / "ledger.db")


def test_exported_state_is_the_ledgers_state_read_in_small_windows(
    ledger: LedgerStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved = ledger.resolve(None)
    assert resolved.position.seq > 4 * 50  # several windows of 50 entries
    largest: list[int] = []
    for name in ("account_rows", "consent_rows"):
        real = getattr(type(ledger), name)

        def counted(self: LedgerStore, *a: Any, _real: Any = real, **k: Any) -> pa.Table:
            got: pa.Table = _real(self, *a, **k)
            largest.append(got.num_rows)
            return got

        monkeypatch.setattr(type(ledger), name, counted)
    count = export_state(
        tmp_path / "state", ledger, resolved, ["train", "share"], None, rows=50, per_partition=40
    )
    monkeypatch.undo()
    # The ledger holds over 600 entries: more partitions than the least, and no read of the
    # ledger returned more than one window, so none returned every account.
    assert count == partitions_for(resolved.position.seq, 40) > state_parts.STATE_PARTITIONS
    assert largest and max(largest) <= 50 < ACCOUNTS
    assert not list((tmp_path / "state").glob("raw-*"))  # the raw windows are gone
    ids = pa.array([f"acct{i:05d}" for i in range(ACCOUNTS)] + ["nobody"])
    accounts, consent = read_state(tmp_path / "state", ids, rows=16)
    oracle_accounts = ledger.account_states(resolved)
    oracle_consent = ledger.consent_state(resolved, purposes=["train", "share"])
    assert accounts.num_rows == ACCOUNTS
    assert _sorted(accounts, "account_id") == _sorted(oracle_accounts, "account_id")
    keys = ("account_id", "purpose", "scope")
    assert _sorted(consent, *keys) == _sorted(oracle_consent, *keys)


def test_a_recipient_and_a_past_position_fold_as_the_ledger_does(
    ledger: LedgerStore, tmp_path: Path
) -> None:
    head = ledger.resolve(None).position.seq
    # Halfway through the ledger, and as of a time (decisions effective by then only).
    for earlier in (
        ledger.resolve(AsOf(seq=head // 2)),
        ledger.resolve(AsOf(time=T0 + timedelta(seconds=ACCOUNTS // 2))),
    ):
        _same_share_state(ledger, earlier, tmp_path / str(earlier.position.seq))


def _same_share_state(ledger: LedgerStore, earlier: Resolved, folder: Path) -> None:
    export_state(folder, ledger, earlier, ["train", "share"], "lab", rows=64, per_partition=64)
    accounts, consent = read_state(folder, pa.array([f"acct{i:05d}" for i in range(ACCOUNTS)]))
    assert _sorted(accounts, "account_id") == _sorted(ledger.account_states(earlier), "account_id")
    oracle = ledger.consent_state(earlier, purposes=["train", "share"], recipient="lab")
    keys = ("account_id", "purpose", "scope")
    assert _sorted(consent, *keys) == _sorted(oracle, *keys)


def test_a_worker_read_returns_no_more_rows_than_its_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read of a bucket's state: partitions larger than a chunk are read chunk by chunk,
    and only the partitions holding an asked account are opened at all."""
    ledger = _ledger(tmp_path / "l.db")
    resolved = ledger.resolve(None)
    export_state(tmp_path / "st", ledger, resolved, ["train"], None, per_partition=10_000)
    seen: list[int] = []
    real = state_parts._slices

    def counted(reader: Any, rows: int | None) -> Any:
        for batch in real(reader, rows):
            seen.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(state_parts, "_slices", counted)
    accounts, _ = read_state(tmp_path / "st", pa.array(["acct00001", "acct00002"]), rows=8)
    assert sorted(accounts["account_id"].to_pylist()) == ["acct00001", "acct00002"]
    assert seen and max(seen) <= 8
    # Two accounts: at most two partitions of each table were read, not all 300 accounts.
    assert sum(seen) < ACCOUNTS


@given(
    st.lists(st.integers(0, 30), max_size=60).map(sorted),
    st.sets(st.integers(0, 35), max_size=20).map(sorted),
)
def test_rows_of_a_sorted_key_column_are_those_a_scan_finds(
    column: list[int], wanted: list[int]
) -> None:
    rows, which = state_parts._rows_of(np.array(column, np.uint64), np.array(wanted, np.uint64))
    assert rows.tolist() == [i for i, k in enumerate(column) if k in set(wanted)]
    assert [wanted[w] for w in which.tolist()] == [column[r] for r in rows.tolist()]


def test_accounts_sharing_a_hash_are_told_apart_by_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every id hashes alike: the hash finds candidates, the id decides.
    monkeypatch.setattr(state_parts, "hash_ids", lambda ids: np.zeros(len(ids), np.uint64))
    accounts = pa.table({"account_id": ["a", "b", "c"], "status": ["active"] * 3})
    consent = pa.table({"account_id": ["b", "a", "b"], "purpose": ["train", "train", "share"]})
    state_parts.write_state(tmp_path, accounts, consent)
    got_accounts, got_consent = read_state(tmp_path, pa.array(["b"]))
    assert got_accounts.to_pylist() == [{"account_id": "b", "status": "active"}]
    assert got_consent.to_pylist() == [
        {"account_id": "b", "purpose": "train"},
        {"account_id": "b", "purpose": "share"},
    ]
    # Two ids asked that share a hash: each row is checked against both.
    both_accounts, both_consent = read_state(tmp_path, pa.array(["c", "b"]))
    assert both_accounts["account_id"].to_pylist() == ["b", "c"]
    assert both_consent["account_id"].to_pylist() == ["b", "b"]


def _keyed_index(state: state_parts.KeyedState) -> StateIndex:
    """The index of what a read gave, with its keys, each row's checked and ascending."""
    for table, keys in ((state.accounts, state.account_keys), (state.consent, state.consent_keys)):
        assert keys.tolist() == hash_ids(table["account_id"]).tolist()
        assert keys.tolist() == sorted(keys.tolist())
    return StateIndex(
        state.accounts,
        state.consent,
        "train",
        recipient=True,
        keys=(state.account_keys, state.consent_keys),
    )


def test_a_keyed_read_frames_items_as_the_whole_state_does(
    ledger: LedgerStore, tmp_path: Path
) -> None:
    """The keys a read hands ``StateIndex`` (each row's, in ascending order) spare it hashing
    and sorting again; the frame of every item is the one an index of the ledger's whole
    state gives (the oracle), for the purpose and for a recipient's ``share``."""
    resolved = ledger.resolve(None)
    export_state(tmp_path / "st", ledger, resolved, ["train", "share"], "lab", per_partition=64)
    asked = pa.array([f"acct{i:05d}" for i in range(0, ACCOUNTS + 40, 3)])  # some unknown
    keyed = _keyed_index(state_parts.read_keyed_state(tmp_path / "st", asked))
    whole = StateIndex(
        ledger.account_states(resolved),
        ledger.consent_state(resolved, purposes=["train", "share"], recipient="lab"),
        "train",
        recipient=True,
    )
    n = len(asked)
    items = pa.table(
        {
            "author_id": asked,
            "kind": pa.array(["post", "assistant_prompt"] * n)[:n],
            "visibility": pa.array(["public"] * n),
            "deleted": pa.array([False] * n),
        }
    )
    assert keyed.frame(items).to_pylist() == whole.frame(items).to_pylist()
    assert keyed.frame(items)["account_known"].to_pylist().count(True) == len(
        [i for i in range(0, ACCOUNTS + 40, 3) if i < ACCOUNTS]
    )


def test_state_sealed_in_another_layout_is_written_again(tmp_path: Path) -> None:
    # A build resumed from an older Consentry's work folder: its seal names no layout (IPC
    # files then), so the state is exported again rather than read in the wrong format.
    accounts = pa.table({"account_id": ["a"], "status": ["active"]})
    consent = pa.table({"account_id": ["a"], "purpose": ["train"]})
    state_parts.write_state(tmp_path, accounts, consent)
    assert state_parts.written(tmp_path)
    (tmp_path / state_parts.MARKER).write_text('{"partitions": 16}', "utf-8")
    assert not state_parts.written(tmp_path)
    (tmp_path / state_parts.MARKER).write_text("not json", "utf-8")
    assert not state_parts.written(tmp_path)


def test_partitions_folded_apart_in_any_order_after_a_killed_export_give_the_same_state(
    ledger: LedgerStore, tmp_path: Path
) -> None:
    """A build folds the partitions as tasks (``steps.StateFold``), in whatever order its
    workers take them; one killed midway exports and folds again from a folder holding the
    first run's leftovers (raw entries, some partitions folded)."""
    resolved = ledger.resolve(None)
    whole = tmp_path / "whole"
    count = export_state(whole, ledger, resolved, ["train", "share"], "lab", per_partition=64)
    apart = tmp_path / "apart"
    assert (
        state_parts.export_entries(apart, ledger, resolved, ["train", "share"], per_partition=64)
        == count
    )
    for p in range(0, count, 2):  # the first run folds half the partitions, then is killed
        state_parts.fold_partition(apart, p, "lab")
    assert not state_parts.written(apart)  # not sealed: a resumed build does it all again
    state_parts.export_entries(apart, ledger, resolved, ["train", "share"], per_partition=64)
    for p in reversed(range(count)):
        state_parts.fold_partition(apart, p, "lab")
    state_parts.seal_state(apart, count)
    assert not list(apart.glob("raw-*"))
    ids = pa.array([f"acct{i:05d}" for i in range(ACCOUNTS)])
    for got, expected in zip(read_state(apart, ids), read_state(whole, ids), strict=True):
        assert got.equals(expected)
    files = sorted(p.name for p in whole.iterdir())
    assert sorted(p.name for p in apart.iterdir()) == files
    for name in files:
        assert (apart / name).read_bytes() == (whole / name).read_bytes(), name


def test_the_whole_state_frames_items_as_the_ledgers_whole_state_does(
    ledger: LedgerStore, tmp_path: Path
) -> None:
    """``read_whole_state`` (what a process keeps when the state is small) holds every
    account's rows, each with its key, in ascending key order across the partitions; its
    frame of every item is the one the ledger's own whole state gives (the oracle), and
    ``state_rows`` counts the rows it read."""
    resolved = ledger.resolve(None)
    folder = tmp_path / "st"
    export_state(folder, ledger, resolved, ["train", "share"], "lab", per_partition=64)
    state = state_parts.read_whole_state(folder)
    accounts = ledger.account_states(resolved)
    consent = ledger.consent_state(resolved, purposes=["train", "share"], recipient="lab")
    assert state.accounts.num_rows == accounts.num_rows == ACCOUNTS
    assert state.consent.num_rows == consent.num_rows
    total = accounts.num_rows + consent.num_rows
    assert state_parts.state_rows(folder) == total
    # Asked only whether it is past a bound, the count stops once past it.
    for bound in (0, 50, total - 1):
        assert bound < state_parts.state_rows(folder, at_most=bound) <= total
    assert state_parts.state_rows(folder, at_most=total) == total
    whole = _keyed_index(state)
    oracle = StateIndex(accounts, consent, "train", recipient=True)
    asked = pa.array([f"acct{i:05d}" for i in range(ACCOUNTS + 20)])  # some unknown
    n = len(asked)
    items = pa.table(
        {
            "author_id": asked,
            "kind": pa.array(["post", "assistant_prompt", "like"] * n)[:n],
            "visibility": pa.array(["public"] * n),
            "deleted": pa.array([False] * n),
        }
    )
    assert whole.frame(items).to_pylist() == oracle.frame(items).to_pylist()


def test_whole_state_of_an_empty_ledger(tmp_path: Path) -> None:
    store = open_ledger(f"sqlite:///{tmp_path / 'empty.db'}", create=True)
    export_state(tmp_path / "st", store, store.resolve(None), ["train"], None)
    state = state_parts.read_whole_state(tmp_path / "st")
    assert state.accounts.num_rows == state.consent.num_rows == 0
    assert state_parts.state_rows(tmp_path / "st") == 0
    with pytest.raises(FileNotFoundError, match="no ledger state"):
        state_parts.read_whole_state(tmp_path / "none")
