"""Each account's signal from the ledger: the opt-in default, a withdrawal, the accounts whose
public posts could not be used at all, and (Hypothesis) yes only for an effective grant."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.ledger import EMPTY_POSITION, LedgerStore
from consentry.model import AccountStatus, Decision, Scope
from consentry.signals import (
    SignalsConfig,
    SignalState,
    load_signals_config,
    parse_signals,
    publish,
    signal_state,
)
from consentry.signals.report import account_signals
from consentry.workspace import Workspace

from .support import add_account, decide, make_workspace


def _config(ws: Workspace) -> SignalsConfig:
    return load_signals_config(ws)


def _one(ledger: LedgerStore, ws: Workspace, account: str) -> tuple[bool, bool]:
    state = signal_state(ledger, ws.policy(), account_id=account)
    return bool(state.train[0]), bool(state.answer[0])


def test_never_decided_is_n_and_withdrawal_flips(ws: Workspace) -> None:
    with ws.ledger() as ledger:
        add_account(ledger, "1")
        assert _one(ledger, ws, "1") == (False, False)
        decide(ledger, "1", "train", Decision.GRANT, step=1)
        decide(ledger, "1", "answer", Decision.GRANT, step=1)
        assert _one(ledger, ws, "1") == (True, True)
        said = account_signals(ledger, ws.policy(), _config(ws), "1")
        assert said is not None and said["content_usage"] == "train-ai=y"
        decide(ledger, "1", "train", Decision.DENY, step=2)
        assert _one(ledger, ws, "1") == (False, True)
        said = account_signals(ledger, ws.policy(), _config(ws), "1")
        assert said is not None
        assert said["content_usage"] == "train-ai=n"
        assert said["content_signal"] == "ai-train=no, ai-input=yes"
        assert said["tdm_reservation"] == 1
        assert said["position"]["seq"] == ledger.head().seq
        assert account_signals(ledger, ws.policy(), _config(ws), "nobody") is None


def test_accounts_whose_posts_cannot_be_used_say_n_despite_a_grant(ws: Workspace) -> None:
    with ws.ledger() as ledger:
        add_account(ledger, "minor", birth=date(2020, 1, 1))
        add_account(ledger, "unknown-age", birth=None)
        add_account(ledger, "deleted", status=AccountStatus.DELETED)
        add_account(ledger, "private", protected=True)
        add_account(ledger, "ok")
        for account in ("minor", "unknown-age", "deleted", "private", "ok"):
            decide(ledger, account, "train", Decision.GRANT)
        state = signal_state(ledger, ws.policy())
        said = dict(zip(state.account_id.to_pylist(), state.train.tolist(), strict=True))
    assert said["ok"] is True
    assert said["minor"] is False and said["deleted"] is False and said["private"] is False
    # The default policy includes accounts of unknown age: the same rule as a snapshot's.
    assert said["unknown-age"] is (ws.policy().unknown_age == "include")


def test_a_deny_of_another_scope_leaves_public_posts_granted(ws: Workspace) -> None:
    with ws.ledger() as ledger:
        add_account(ledger, "1")
        decide(ledger, "1", "train", Decision.GRANT, step=1)
        decide(ledger, "1", "train", Decision.DENY, step=2, scope=Scope.ASSISTANT)
        assert _one(ledger, ws, "1") == (True, False)
        decide(ledger, "1", "train", Decision.DENY, step=3, scope=Scope.POSTS)
        assert _one(ledger, ws, "1") == (False, False)


DECISIONS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["train", "answer"]),
        st.sampled_from([Decision.GRANT, Decision.DENY]),
        st.sampled_from([None, Scope.POSTS, Scope.ASSISTANT]),
        st.integers(0, 5),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(history=DECISIONS)
def test_yes_only_for_an_effective_train_grant(
    history: list[tuple[str, str, Decision, Scope | None, int]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp) / "ws", None)
        with ws.ledger() as ledger:
            for account in ("a", "b", "c"):
                add_account(ledger, account)
            for account, purpose, decision, scope, minute in history:
                decide(ledger, account, purpose, decision, step=minute, scope=scope)
            state = signal_state(ledger, ws.policy())
            said = dict(zip(state.account_id.to_pylist(), state.train.tolist(), strict=True))
        for account in ("a", "b", "c"):
            # The reference: the latest (by time, then order) train decision covering posts.
            covering = [
                (minute, i, decision)
                for i, (who, purpose, decision, scope, minute) in enumerate(history)
                if who == account and purpose == "train" and scope in (None, Scope.POSTS)
            ]
            expected = bool(covering) and max(covering)[2] is Decision.GRANT
            assert said[account] is expected


def test_a_handle_shared_by_two_accounts_says_yes_only_if_both_do() -> None:
    state = SignalState(
        EMPTY_POSITION,
        pa.array(["1", "2", "3", "4"]),
        np.array([True, False, True, True]),
        np.array([True, True, False, True]),
    )
    pub = publish(state, parse_signals({}, "<test>"), pa.array(["al", "al", "bo", None]))
    assert dict(zip(pub.keys.to_pylist(), pub.combo.tolist(), strict=True)) == {
        "al": 2,  # train: only one of the two granted; answer: both did
        "bo": 1,
    }
