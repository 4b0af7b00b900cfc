"""Property: for any history, ``consent_state`` equals an obviously correct (slow) fold, on both
backends, at any position, time bound and recipient."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ledger.ledger_support import Backend, at

from consentry.ledger import Resolved
from consentry.ledger.entries import to_us
from consentry.model import AccountChange, ConsentDecision, Decision, Scope, Source

Item = ConsentDecision | AccountChange
Expected = dict[tuple[str, str, str], tuple[int, int]]


def reference_state(
    history: Sequence[Item], upto_seq: int, at_bound_us: int | None, recipient: str | None
) -> Expected:
    """Per (account, purpose, scope): among the decisions recorded up to ``upto_seq``, effective by
    ``at_bound_us``, covering the scope (same scope, or none) and addressed to everyone or to
    ``recipient``, the one with the greatest (time, seq). Scopes nobody decided are absent."""
    found: dict[tuple[str, str, str], tuple[int, int, int]] = {}  # key -> (at, seq, decision)
    for seq, item in enumerate(history[:upto_seq], start=1):
        if not isinstance(item, ConsentDecision):
            continue
        t = to_us(item.at)
        if at_bound_us is not None and t > at_bound_us:
            continue
        if item.recipient is not None and item.recipient != recipient:
            continue
        for scope in Scope:
            if item.scope is not None and item.scope is not scope:
                continue
            key = (item.account_id, item.purpose, scope.value)
            candidate = (t, seq, 1 if item.decision is Decision.GRANT else 0)
            if key not in found or candidate[:2] > found[key][:2]:
                found[key] = candidate
    return {key: (decision, seq) for key, (_, seq, decision) in found.items()}


@st.composite
def decision_items(draw: st.DrawFn) -> Item:
    account = draw(st.sampled_from(["a", "b", "c"]))
    # Few distinct minutes: ties in time are frequent, so ledger order must break them.
    when = at(draw(st.integers(0, 3)))
    if draw(st.integers(0, 9)) == 0:
        return AccountChange(account, when, {"protected": draw(st.booleans())})
    purpose = draw(st.sampled_from(["train", "share"]))
    recipient = draw(st.sampled_from([None, "acme", "globex"])) if purpose == "share" else None
    return ConsentDecision(
        account,
        purpose,
        draw(st.sampled_from(Decision)),
        when,
        draw(st.sampled_from(Source)),
        draw(st.sampled_from([None, *Scope])),
        None,
        recipient,
    )


@dataclass(frozen=True)
class Case:
    history: list[Item]
    cuts: list[int]  # append in these chunks: single entries and batches both
    upto: int
    at_bound_minutes: int | None
    recipient: str | None


@st.composite
def cases(draw: st.DrawFn) -> Case:
    history = draw(st.lists(decision_items(), min_size=0, max_size=30))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(history)), max_size=6))))
    return Case(
        history,
        cuts,
        draw(st.integers(0, len(history))),
        draw(st.none() | st.integers(-1, 4)),
        draw(st.sampled_from([None, "acme", "globex"])),
    )


@pytest.mark.slow
@settings(
    max_examples=50,
    deadline=None,
    # The factory makes a fresh database per example; it is not per-test state.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_consent_state_matches_the_reference_fold(
    backend_factory: Callable[[], Backend], case: Case
) -> None:
    with backend_factory().open() as ledger:
        start = 0
        for cut in [*case.cuts, len(case.history)]:
            if cut > start:
                ledger.append(case.history[start:cut])
                start = cut
        bound = None if case.at_bound_minutes is None else to_us(at(case.at_bound_minutes))
        resolved = Resolved(ledger.position_at(case.upto), bound)
        rows = ledger.consent_state(resolved, recipient=case.recipient).to_pylist()
        got = {(r["account_id"], r["purpose"], r["scope"]): (r["decision"], r["seq"]) for r in rows}
        assert got == reference_state(case.history, case.upto, bound, case.recipient)
        assert list(got) == sorted(got)  # sorted by account, purpose, scope
        assert all(r["at"] == case.history[r["seq"] - 1].at for r in rows)
