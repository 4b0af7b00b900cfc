"""The rule behind `consent show`'s share lines, for any history: a share decision naming one
recipient is never shown as everyone's choice, each recipient's line is the latest decision for
it or for everyone, and GPC is left alone exactly when some share decision exists."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.api.test_api_consent_access import T0, decision  # the same histories

from consentry.ledger import LedgerStore, open_ledger
from consentry.model import SHARE, AccountChange, ConsentDecision, Scope
from consentry.policy import Policy, default_policy_text, load_policy
from consentry.policy.choices import (
    choices,
    decided_of,
    recipient_choices,
    share_choice,
    share_recipients,
)


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    path = tmp_path_factory.mktemp("policy") / "policy.toml"
    path.write_text(default_policy_text(), "utf-8")
    return load_policy(path)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[LedgerStore]:
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", create=True) as store:
        yield store


def _latest(
    items: list[tuple[int, ConsentDecision]], scope: Scope, recipients: set[str | None]
) -> tuple[int, ConsentDecision] | None:
    """The rule of docs/concepts.md: the latest (time, then ledger order) share decision
    covering ``scope`` among those naming one of ``recipients`` (None: no recipient)."""
    covering = [
        (seq, d)
        for seq, d in items
        if d.purpose == SHARE and d.scope in (None, scope) and d.recipient in recipients
    ]
    return max(covering, key=lambda sd: (sd[1].at, sd[0]), default=None)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(decision, max_size=10))
def test_share_lines_follow_the_rule(
    ledger: LedgerStore, policy: Policy, items: list[ConsentDecision]
) -> None:
    account = uuid.uuid4().hex
    ledger.append([AccountChange(account, T0 - timedelta(days=1), {"country": "FR"}, created=True)])
    first = ledger.head().seq + 1
    if items:
        ledger.append([replace(d, account_id=account) for d in items])
    numbered = list(enumerate(items, start=first))
    resolved = ledger.resolve(None)
    history = ledger.account_history(account)
    general = choices(policy, "FR", decided_of(ledger.consent_state(account_id=account)))
    named = share_recipients(history)
    assert named == sorted({d.recipient for d in items if d.recipient})
    per_recipient = recipient_choices(ledger, policy, resolved, account, "FR", named)
    for c in general:
        if c.purpose != SHARE:
            continue
        expected = _latest(numbered, Scope(c.scope), {None})
        assert c.recipient is None
        assert (c.entry, c.default) == ((expected[0], False) if expected else (None, True))
    for c in per_recipient:
        assert c.purpose == SHARE and c.recipient in named
        expected = _latest(numbered, Scope(c.scope), {None, c.recipient})
        assert (c.entry, c.default) == ((expected[0], False) if expected else (None, True))
        if expected:
            assert c.decision is expected[1].decision
    assert len(per_recipient) == len(named) * len(policy.scopes)
    gpc = share_choice(history)
    shares = [seq for seq, d in numbered if d.purpose == SHARE]
    assert (gpc.seq if gpc else None) == (max(shares) if shares else None)
