"""The ledger interface, on both backends: appends, positions, history, and the as-of folds."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from tests.ledger.ledger_support import Backend, at, deny, grant

from consentry.errors import UsageError
from consentry.ledger import EMPTY_POSITION, AsOf, EntryKind, LedgerStore, Position
from consentry.ledger.state import ACCOUNT_STATE_SCHEMA, CONSENT_STATE_SCHEMA
from consentry.model import AccountChange, AccountStatus, ConsentDecision, Decision, Scope

POSTS, INTERACTIONS, ASSISTANT = Scope.POSTS, Scope.INTERACTIONS, Scope.ASSISTANT

State = dict[tuple[str, str, str], tuple[int, int]]


def state(table: pa.Table) -> State:
    """(account, purpose, scope) -> (decision: 1 grant / 0 deny, deciding seq)."""
    return {
        (r["account_id"], r["purpose"], r["scope"]): (r["decision"], r["seq"])
        for r in table.to_pylist()
    }


def decisions(table: pa.Table) -> dict[tuple[str, str, str], int]:
    return {k: v[0] for k, v in state(table).items()}


def all_scopes(account: str, purpose: str, decision: int) -> dict[tuple[str, str, str], int]:
    return {(account, purpose, s.value): decision for s in Scope}


# ---- empty ledger, appends, positions, history ------------------------------------------------


def test_an_empty_ledger(ledger: LedgerStore) -> None:
    assert ledger.head() == EMPTY_POSITION
    assert ledger.count() == 0
    report = ledger.verify()
    assert (report.head, report.entries) == (EMPTY_POSITION, 0)
    assert ledger.verify(against=EMPTY_POSITION).head == EMPTY_POSITION
    consent = ledger.consent_state()
    assert consent.num_rows == 0 and consent.schema == CONSENT_STATE_SCHEMA
    accounts = ledger.account_states()
    assert accounts.num_rows == 0 and accounts.schema == ACCOUNT_STATE_SCHEMA
    assert ledger.account_history("nobody") == []
    assert ledger.append([]) == EMPTY_POSITION
    assert ledger.position_at(0) == EMPTY_POSITION
    assert ledger.resolve(AsOf(seq=0)).position == EMPTY_POSITION


def test_append_returns_the_new_head_and_history_reads_back(ledger: LedgerStore) -> None:
    first = ledger.append([grant("alice", minutes=1)])
    assert first.seq == 1 and first == ledger.head() == ledger.position_at(1)
    change = AccountChange(
        "alice", at(2), {"country": "FR", "birth_date": date(1990, 5, 1)}, created=True
    )
    head = ledger.append(
        [
            change,
            deny("bob", "share", 3, recipient="acme"),
            grant("alice", "fine_tune", 4, scope=ASSISTANT),
        ]
    )
    assert head.seq == 4 and head == ledger.head()
    assert ledger.count() == 4
    assert ledger.position_at(1) == first

    history = ledger.account_history("alice")
    assert [e.seq for e in history] == [1, 2, 4]
    d1, created, d4 = history
    assert d1.kind is EntryKind.CONSENT and d1.prev_hash == EMPTY_POSITION.hash
    assert (d1.purpose, d1.decision, d1.scope, d1.source, d1.notice_version) == (
        "train",
        "grant",
        None,
        "web",
        "2024-07",
    )
    assert d1.at == at(1) and d1.hash == first.hash
    assert created.kind is EntryKind.ACCOUNT_CREATED and created.prev_hash == d1.hash
    assert created.attrs == {"country": "FR", "birth_date": date(1990, 5, 1)}
    assert (d4.purpose, d4.scope, d4.decision) == ("fine_tune", "assistant", "grant")
    assert d4.hash == head.hash
    assert abs(d4.recorded_at - datetime.now(UTC)) < timedelta(minutes=1)
    (bob,) = ledger.account_history("bob")
    assert (bob.recipient, bob.decision, bob.notice_version) == ("acme", "deny", None)


def test_large_appends_commit_in_batches_that_chain(ledger: LedgerStore) -> None:
    seen: list[int] = []
    items = [grant(f"a{i}", minutes=i) for i in range(25)]
    head = ledger.append(items, progress=seen.append, batch_size=10)
    assert seen == [10, 10, 5]
    assert head.seq == 25 and ledger.verify().head == head
    # Single entries (a fast path on PostgreSQL) and batches interleave on one chain.
    ledger.append([deny("a0", minutes=30)])
    ledger.append([deny("a1", minutes=31), deny("a2", minutes=32)])
    assert ledger.verify().entries == 28


# ---- consent state: as of a position ---------------------------------------------------------


def test_consent_state_as_of_a_sequence_number(ledger: LedgerStore) -> None:
    ledger.append([grant("alice", minutes=1)])
    ledger.append([deny("alice", minutes=2)])
    assert decisions(ledger.consent_state(AsOf(seq=1))) == all_scopes("alice", "train", 1)
    assert decisions(ledger.consent_state(AsOf(seq=2))) == all_scopes("alice", "train", 0)
    assert decisions(ledger.consent_state()) == all_scopes("alice", "train", 0)
    assert ledger.consent_state(AsOf(seq=0)).num_rows == 0
    # The deciding entry and its time are reported.
    row = ledger.consent_state(AsOf(seq=1)).to_pylist()[0]
    assert (row["seq"], row["at"]) == (1, at(1))


def test_entries_recorded_after_the_time_are_invisible(ledger: LedgerStore) -> None:
    ledger.append([grant("alice", minutes=0)])
    time.sleep(0.005)
    moment = datetime.now(UTC)
    time.sleep(0.005)
    # Recorded after ``moment`` although dated long before it: the ledger did not know it then.
    ledger.append([deny("alice", minutes=1)])
    resolved = ledger.resolve(AsOf(time=moment))
    assert resolved.position == ledger.position_at(1)
    assert decisions(ledger.consent_state(AsOf(time=moment))) == all_scopes("alice", "train", 1)
    assert decisions(ledger.consent_state()) == all_scopes("alice", "train", 0)
    early = datetime(2000, 1, 1, tzinfo=UTC)
    assert ledger.resolve(AsOf(time=early)).position == EMPTY_POSITION


def test_a_decision_dated_after_the_time_is_invisible(ledger: LedgerStore) -> None:
    now = datetime.now(UTC)
    ledger.append([grant("alice", minutes=0)])
    # Recorded now, effective in two minutes (within the clock-skew allowance).
    later = ConsentDecision("alice", "train", Decision.DENY, now + timedelta(minutes=2))
    ledger.append([later])
    as_of_now = AsOf(time=now + timedelta(seconds=30))
    assert ledger.resolve(as_of_now).position.seq == 2  # both entries were recorded by then…
    assert decisions(ledger.consent_state(as_of_now)) == all_scopes("alice", "train", 1)
    in_three = AsOf(time=now + timedelta(minutes=3))  # …but the deny only takes effect later
    assert decisions(ledger.consent_state(in_three)) == all_scopes("alice", "train", 0)


def test_the_latest_decision_by_time_wins_and_ties_go_to_ledger_order(
    ledger: LedgerStore,
) -> None:
    ledger.append([deny("alice", minutes=10)])
    ledger.append([grant("alice", minutes=5)])  # recorded later, but decided earlier: loses
    assert state(ledger.consent_state())[("alice", "train", "posts")] == (0, 1)
    ledger.append([grant("bob", minutes=7), deny("bob", minutes=7)])  # same time: seq decides
    ledger.append([grant("bob", minutes=7)])
    assert state(ledger.consent_state())[("bob", "train", "posts")] == (1, 5)
    assert state(ledger.consent_state(AsOf(seq=4)))[("bob", "train", "posts")] == (0, 4)


# ---- scopes and recipients -------------------------------------------------------------------


def test_an_unscoped_decision_covers_every_scope(ledger: LedgerStore) -> None:
    ledger.append([grant("alice", minutes=1)])
    assert decisions(ledger.consent_state()) == all_scopes("alice", "train", 1)


def test_a_later_scoped_deny_excludes_only_that_scope(ledger: LedgerStore) -> None:
    ledger.append([grant("alice", minutes=1), deny("alice", minutes=2, scope=ASSISTANT)])
    got = decisions(ledger.consent_state())
    assert got == {
        ("alice", "train", "posts"): 1,
        ("alice", "train", "interactions"): 1,
        ("alice", "train", "assistant"): 0,
    }


def test_a_later_unscoped_grant_overrides_an_earlier_scoped_deny(ledger: LedgerStore) -> None:
    ledger.append([deny("alice", minutes=1, scope=POSTS), grant("alice", minutes=2)])
    assert decisions(ledger.consent_state()) == all_scopes("alice", "train", 1)
    # …but an earlier unscoped grant does not override a later scoped deny, whatever the order
    # in which they were recorded.
    ledger.append([deny("bob", minutes=9, scope=POSTS), grant("bob", minutes=8)])
    got = decisions(ledger.consent_state(account_id="bob"))
    assert got == {
        ("bob", "train", "posts"): 0,
        ("bob", "train", "interactions"): 1,
        ("bob", "train", "assistant"): 1,
    }


def test_scoped_decisions_alone_leave_other_scopes_undecided(ledger: LedgerStore) -> None:
    ledger.append([grant("alice", minutes=1, scope=INTERACTIONS)])
    assert decisions(ledger.consent_state()) == {("alice", "train", "interactions"): 1}


def test_a_recipient_specific_share_decision_counts_only_for_that_recipient(
    ledger: LedgerStore,
) -> None:
    ledger.append(
        [
            grant("alice", "share", 1),
            deny("alice", "share", 2, recipient="acme"),
            grant("bob", "share", 1, recipient="globex"),
        ]
    )
    generic = decisions(ledger.consent_state())
    assert generic == all_scopes("alice", "share", 1)  # bob never decided for everyone
    acme = decisions(ledger.consent_state(recipient="acme"))
    assert acme == all_scopes("alice", "share", 0)
    globex = decisions(ledger.consent_state(recipient="globex"))
    assert globex == {**all_scopes("alice", "share", 1), **all_scopes("bob", "share", 1)}
    # A later generic decision wins over an earlier specific one.
    ledger.append([grant("alice", "share", 3)])
    assert decisions(ledger.consent_state(recipient="acme")) == all_scopes("alice", "share", 1)


def test_only_a_share_decision_names_a_recipient(ledger: LedgerStore) -> None:
    with pytest.raises(UsageError, match="share"):
        ledger.append([grant("alice", "train", 1, recipient="acme")])
    assert ledger.count() == 0


def test_consent_state_filters_by_purpose_and_account(ledger: LedgerStore) -> None:
    ledger.append([grant("alice", "train", 1), deny("alice", "answer", 1), grant("bob", "train")])
    only_answer = decisions(ledger.consent_state(purposes=["answer"]))
    assert only_answer == all_scopes("alice", "answer", 0)
    assert ledger.consent_state(purposes=[]).num_rows == 0
    assert set(decisions(ledger.consent_state(account_id="bob"))) == set(
        all_scopes("bob", "train", 1)
    )


# ---- account state ---------------------------------------------------------------------------


def test_account_state_folds_creation_and_changes(ledger: LedgerStore) -> None:
    created = ledger.append(
        [
            AccountChange(
                "alice",
                at(0),
                {"country": "FR", "birth_date": None, "protected": False, "status": "active"},
                created=True,
            ),
            AccountChange("bob", at(0), {"country": "DE"}, created=True),
        ]
    )
    ledger.append([AccountChange("alice", at(1), {"protected": True})])
    ledger.append([AccountChange("alice", at(2), {"birth_date": date(2010, 3, 4)})])
    ledger.append([AccountChange("alice", at(3), {"status": AccountStatus.SUSPENDED})])
    ledger.append([AccountChange("alice", at(4), {"protected": False})])
    # A change recorded for an account the ledger never saw created (it may arrive later).
    ledger.append([AccountChange("carol", at(5), {"status": AccountStatus.DELETED})])

    now = {r["account_id"]: r for r in ledger.account_states().to_pylist()}
    assert now["alice"] == {
        "account_id": "alice",
        "country": "FR",
        "birth_date": date(2010, 3, 4),
        "protected": False,
        "status": "suspended",
        "created_seq": 1,
    }
    assert now["bob"] == {
        "account_id": "bob",
        "country": "DE",
        "birth_date": None,
        "protected": False,
        "status": "active",
        "created_seq": 2,
    }
    assert (now["carol"]["status"], now["carol"]["created_seq"]) == ("deleted", None)

    earlier = {r["account_id"]: r for r in ledger.account_states(AsOf(seq=3)).to_pylist()}
    assert set(earlier) == {"alice", "bob"}
    assert earlier["alice"]["protected"] is True
    assert earlier["alice"]["birth_date"] is None and earlier["alice"]["status"] == "active"
    assert ledger.account_states(AsOf(seq=created.seq - 2)).num_rows == 0
    (one,) = ledger.account_states(account_id="alice").to_pylist()
    assert one == now["alice"]


def test_account_state_follows_time_not_recording_order(ledger: LedgerStore) -> None:
    ledger.append([AccountChange("alice", at(10), {"status": "deactivated"}, created=True)])
    ledger.append([AccountChange("alice", at(5), {"status": "active"})])  # backdated: older
    (alice,) = ledger.account_states().to_pylist()
    assert alice["status"] == "deactivated"


# ---- guards and errors -----------------------------------------------------------------------


def test_decisions_dated_in_the_future_are_refused(ledger: LedgerStore) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=10)
    with pytest.raises(UsageError, match="future"):
        ledger.append([ConsentDecision("alice", "train", Decision.GRANT, soon)])
    with pytest.raises(UsageError, match="future"):
        ledger.append([AccountChange("alice", soon, {"protected": True})])
    # A whole batch is refused before anything is written.
    with pytest.raises(UsageError, match="future"):
        ledger.append([grant("alice"), ConsentDecision("bob", "train", Decision.GRANT, soon)])
    assert ledger.count() == 0
    # Within the allowed skew, a decision is accepted.
    almost_now = datetime.now(UTC) + timedelta(minutes=1)
    assert ledger.append([ConsentDecision("a", "train", Decision.GRANT, almost_now)]).seq == 1


def test_times_without_an_offset_and_empty_accounts_are_refused(ledger: LedgerStore) -> None:
    with pytest.raises(UsageError, match="offset"):
        ledger.append([ConsentDecision("alice", "train", Decision.GRANT, datetime(2024, 1, 1))])
    with pytest.raises(UsageError, match="empty"):
        ledger.append([grant("")])
    assert ledger.count() == 0


def test_positions_that_do_not_exist_are_usage_errors(ledger: LedgerStore) -> None:
    ledger.append([grant("alice"), grant("bob")])
    with pytest.raises(UsageError, match="no entry 3"):
        ledger.position_at(3)
    with pytest.raises(UsageError, match="no entry 9"):
        ledger.resolve(AsOf(seq=9))
    with pytest.raises(UsageError, match="negative"):
        ledger.resolve(AsOf(seq=-1))
    with pytest.raises(UsageError, match="no entry 7"):
        ledger.consent_state(AsOf(seq=7))


def test_as_of_parsing() -> None:
    assert AsOf.parse(None) == AsOf() == AsOf.parse("head")
    assert AsOf.parse("12") == AsOf(seq=12)
    assert AsOf.parse("2024-07-01T12:00:00+00:00") == AsOf(time=at(0))
    with pytest.raises(UsageError, match="offset"):
        AsOf.parse("2024-07-01T12:00:00")
    with pytest.raises(UsageError, match="sequence number or"):
        AsOf.parse("yesterday")


def test_position_parsing() -> None:
    h = "ab" * 32
    assert Position.parse(f"7:{h.upper()}") == Position(7, h)
    assert str(Position(7, h)) == f"7:{h}"
    for bad in ("7", f"x:{h}", "7:abc", f"7:{'zz' * 32}"):
        with pytest.raises(ValueError, match="SEQ:HASH"):
            Position.parse(bad)


def test_a_reopened_ledger_keeps_its_entries(ledger: LedgerStore, backend: Backend) -> None:
    head = ledger.append([grant("alice"), deny("bob")])
    ledger.close()
    with backend.open() as again:  # migrations already applied: nothing to do
        assert again.head() == head
        assert again.verify().head == head
