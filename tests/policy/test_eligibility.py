"""Eligibility: one reason code per item, in docs/concepts.md's order, on whole Arrow batches."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.ledger.state import CONSENT_ROWS_SCHEMA, fold_consent_state
from consentry.model import (
    AccountState,
    AccountStatus,
    ContentKind,
    Decision,
    Reason,
    Visibility,
)
from consentry.policy import FRAME_SCHEMA, default_policy_text, load_policy, verdict, verdicts
from consentry.policy.eligibility import adult_cutoff
from consentry.policy.frame import StateIndex
from consentry.policy.loader import parse_policy

POLICY = load_policy()
ON = date(2026, 11, 23)
ADULT = AccountState("a", country="FR", birth_date=date(1990, 5, 1))


def check(
    account: AccountState = ADULT,
    *,
    kind: ContentKind = ContentKind.POST,
    visibility: Visibility = Visibility.PUBLIC,
    deleted: bool = False,
    consent: Decision | None = Decision.GRANT,
    share: Decision | None = Decision.GRANT,
    recipient: bool = False,
    purpose: str = "train",
    policy: Any = POLICY,
) -> Reason:
    return verdict(
        account,
        kind=kind,
        visibility=visibility,
        deleted=deleted,
        consent=consent,
        share=share,
        policy=policy,
        purpose=purpose,
        recipient=recipient,
        on=ON,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, Reason.ELIGIBLE),
        ({"account": replace(ADULT, status=AccountStatus.DELETED)}, Reason.ACCOUNT_DELETED),
        ({"account": replace(ADULT, status=AccountStatus.DEACTIVATED)}, Reason.ACCOUNT_INACTIVE),
        ({"account": replace(ADULT, status=AccountStatus.SUSPENDED)}, Reason.ACCOUNT_INACTIVE),
        ({"account": AccountState("a", known=False)}, Reason.ACCOUNT_INACTIVE),
        ({"account": replace(ADULT, birth_date=date(2010, 1, 1))}, Reason.MINOR),
        ({"account": replace(ADULT, protected=True)}, Reason.PROTECTED_ACCOUNT),
        ({"kind": ContentKind.DM, "visibility": Visibility.DIRECT}, Reason.DIRECT_MESSAGE),
        ({"visibility": Visibility.FOLLOWERS}, Reason.NOT_PUBLIC),
        ({"visibility": Visibility.MENTIONED}, Reason.NOT_PUBLIC),
        ({"visibility": Visibility.DIRECT}, Reason.NOT_PUBLIC),
        ({"deleted": True}, Reason.CONTENT_DELETED),
        ({"consent": None}, Reason.NO_CONSENT),
        ({"consent": Decision.DENY}, Reason.CONSENT_DENIED),
        ({"recipient": True, "share": None}, Reason.NO_SHARE_CONSENT),
        ({"recipient": True, "share": Decision.DENY}, Reason.NO_SHARE_CONSENT),
        ({"recipient": True}, Reason.ELIGIBLE),
        # Assistant conversations are private by nature: visibility does not exclude them.
        (
            {"kind": ContentKind.ASSISTANT_PROMPT, "visibility": Visibility.DIRECT},
            Reason.ELIGIBLE,
        ),
        (
            {"kind": ContentKind.ASSISTANT_RESPONSE, "visibility": Visibility.FOLLOWERS},
            Reason.ELIGIBLE,
        ),
        # Unknown age is included by default (and counted by the snapshot).
        ({"account": replace(ADULT, birth_date=None)}, Reason.ELIGIBLE),
        # The share purpose itself needs no second share consent.
        ({"purpose": "share", "recipient": True, "share": None}, Reason.ELIGIBLE),
    ],
)
def test_each_reason_code(change: dict[str, Any], expected: Reason) -> None:
    assert check(**change) is expected


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"account": replace(ADULT, status=AccountStatus.DELETED, protected=True)},
            Reason.ACCOUNT_DELETED,
        ),
        (
            {"account": replace(ADULT, birth_date=date(2012, 1, 1), protected=True)},
            Reason.MINOR,
        ),
        (
            {"account": replace(ADULT, protected=True), "kind": ContentKind.DM},
            Reason.PROTECTED_ACCOUNT,
        ),
        ({"kind": ContentKind.DM, "visibility": Visibility.DIRECT}, Reason.DIRECT_MESSAGE),
        ({"visibility": Visibility.FOLLOWERS, "deleted": True}, Reason.NOT_PUBLIC),
        ({"deleted": True, "consent": Decision.DENY}, Reason.CONTENT_DELETED),
        ({"consent": Decision.DENY, "recipient": True, "share": None}, Reason.CONSENT_DENIED),
        ({"consent": None, "recipient": True, "share": Decision.DENY}, Reason.NO_CONSENT),
    ],
)
def test_first_reason_in_precedence_wins(change: dict[str, Any], expected: Reason) -> None:
    assert check(**change) is expected


def test_unknown_age_excluded_when_policy_says_so() -> None:
    text = default_policy_text().replace('unknown = "include"', 'unknown = "exclude"')
    policy = parse_policy(text, source="t")
    assert check(replace(ADULT, birth_date=None), policy=policy) is Reason.AGE_UNKNOWN
    assert check(ADULT, policy=policy) is Reason.ELIGIBLE


def test_inactive_accounts_may_be_allowed_but_unknown_ones_never() -> None:
    policy = parse_policy(default_policy_text().replace('  "account_inactive",\n', ""), source="t")
    deactivated = replace(ADULT, status=AccountStatus.DEACTIVATED)
    assert check(deactivated, policy=policy) is Reason.ELIGIBLE
    assert check(AccountState("x", known=False), policy=policy) is Reason.ACCOUNT_INACTIVE


def test_jurisdiction_defaults_and_ages() -> None:
    policy = parse_policy(
        default_policy_text()
        + '\n[jurisdictions.US]\ndecision = "grant"\nminimum_age = 13\n'
        + '[jurisdictions.US.purposes]\nshare = "deny"\n',
        source="t",
    )
    us = replace(ADULT, country="US")
    assert check(us, consent=None, policy=policy) is Reason.ELIGIBLE  # opt-out jurisdiction
    assert check(ADULT, consent=None, policy=policy) is Reason.NO_CONSENT  # FR stays opt-in
    assert check(us, consent=None, recipient=True, share=None, policy=policy) is (
        Reason.NO_SHARE_CONSENT
    )
    teen = date(ON.year - 15, 1, 1)
    assert check(replace(us, birth_date=teen), policy=policy) is Reason.ELIGIBLE
    assert check(replace(ADULT, birth_date=teen), policy=policy) is Reason.MINOR


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        (date(2008, 11, 23), Reason.ELIGIBLE),  # 18 today
        (date(2008, 11, 24), Reason.MINOR),  # 18 tomorrow
    ],
)
def test_age_boundary(birth: date, expected: Reason) -> None:
    assert check(replace(ADULT, birth_date=birth)) is expected


def test_leap_day_birthdays_count_as_minor_one_day_longer() -> None:
    assert adult_cutoff(date(2028, 2, 29), 18) == date(2010, 2, 28)
    assert adult_cutoff(date(2026, 3, 1), 18) == date(2008, 3, 1)


def test_unknown_purpose_is_refused() -> None:
    from consentry.errors import UsageError

    with pytest.raises(UsageError):
        check(purpose="nope")


def test_batch_equals_row_by_row() -> None:
    """Many rows in one call give exactly the per-row verdicts (no cross-row leakage)."""
    rng = np.random.default_rng(7)
    n = 500
    kinds = [k.value for k in ContentKind]
    vis = [v.value for v in Visibility]
    statuses = [s.value for s in AccountStatus]
    rows = {
        "kind": rng.choice(kinds, n).tolist(),
        "visibility": rng.choice(vis, n).tolist(),
        "deleted": (rng.random(n) < 0.1).tolist(),
        "account_known": (rng.random(n) < 0.95).tolist(),
        "status": rng.choice(statuses, n).tolist(),
        "protected": (rng.random(n) < 0.1).tolist(),
        "birth_date": [
            None if rng.random() < 0.2 else date(int(rng.integers(1950, 2020)), 1, 1)
            for _ in range(n)
        ],
        "country": rng.choice(["FR", "US", "DE"], n).tolist(),
        "consent": [None if x == 2 else int(x) for x in rng.integers(0, 3, n)],
        "share": [None if x == 2 else int(x) for x in rng.integers(0, 3, n)],
    }
    table = pa.table(rows, schema=FRAME_SCHEMA)
    batch = verdicts(table, POLICY, "train", recipient=True, on=ON)
    for i in range(n):
        one = verdicts(table.slice(i, 1), POLICY, "train", recipient=True, on=ON)
        assert batch[i] == one[0]
    assert len(set(batch.tolist())) > 5  # the sample exercises many reasons


# ---- Hypothesis: the invariants through the ledger fold and the state join -----------------

SCOPES = [None, "posts", "interactions", "assistant"]
decision_st = st.tuples(
    st.sampled_from(["train", "share"]),
    st.sampled_from(SCOPES),
    st.sampled_from(["grant", "deny"]),
    st.integers(0, 5),  # at (coarse, so that ties happen)
)
ITEM_KINDS = [ContentKind.POST, ContentKind.REPLY, ContentKind.ASSISTANT_PROMPT]


def _ledger_rows(decisions: list[tuple[str, str | None, str, int]], account: str = "a") -> pa.Table:
    return pa.table(
        {
            "account_id": [account] * len(decisions),
            "purpose": [d[0] for d in decisions],
            "scope": [d[1] or "" for d in decisions],
            "decision": [d[2] for d in decisions],
            "recipient": [""] * len(decisions),
            "seq": list(range(1, len(decisions) + 1)),
            "at_us": [d[3] for d in decisions],
        },
        schema=CONSENT_ROWS_SCHEMA,
    )


def _accounts(account: AccountState = ADULT) -> pa.Table:
    from consentry.ledger.state import ACCOUNT_STATE_SCHEMA

    return pa.table(
        {
            "account_id": [account.account_id],
            "country": [account.country],
            "birth_date": [account.birth_date],
            "protected": [account.protected],
            "status": [account.status.value],
            "created_seq": [1],
        },
        schema=ACCOUNT_STATE_SCHEMA,
    )


def _pipeline(
    decisions: list[tuple[str, str | None, str, int]],
    kinds: list[ContentKind],
    *,
    recipient: bool = False,
    account: AccountState = ADULT,
) -> list[Reason]:
    state = fold_consent_state(_ledger_rows(decisions, account.account_id), None)
    index = StateIndex(_accounts(account), state, "train", recipient=recipient)
    items = pa.table(
        {
            "author_id": [account.account_id] * len(kinds),
            "kind": [k.value for k in kinds],
            "visibility": ["public"] * len(kinds),
            "deleted": [False] * len(kinds),
        }
    )
    out = verdicts(index.frame(items), POLICY, "train", recipient=recipient, on=ON)
    return [Reason(int(x)) for x in out]


def _reference(
    decisions: list[tuple[str, str | None, str, int]], purpose: str, scope: str
) -> str | None:
    """Obviously-correct fold: the latest (by at, then ledger order) decision covering scope."""
    best: tuple[int, int, str] | None = None
    for seq, (p, s, d, at) in enumerate(decisions, start=1):
        if p == purpose and s in (None, scope) and (best is None or (at, seq) > best[:2]):
            best = (at, seq, d)
    return best[2] if best else None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(decision_st, max_size=8),
    st.sampled_from(ITEM_KINDS),
    st.booleans(),
)
def test_verdict_matches_reference_fold(
    decisions: list[tuple[str, str | None, str, int]], kind: ContentKind, recipient: bool
) -> None:
    scope = "assistant" if kind is ContentKind.ASSISTANT_PROMPT else "posts"
    train = _reference(decisions, "train", scope)
    share = _reference(decisions, "share", scope)
    expected = (
        Reason.NO_CONSENT
        if train is None
        else Reason.CONSENT_DENIED
        if train == "deny"
        else Reason.NO_SHARE_CONSENT
        if recipient and share != "grant"
        else Reason.ELIGIBLE
    )
    assert _pipeline(decisions, [kind], recipient=recipient) == [expected]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["share", "fine_tune"]),
            st.sampled_from(SCOPES),
            st.sampled_from(["grant", "deny"]),
            st.integers(0, 5),
        ),
        max_size=6,
    ),
    st.sampled_from(ITEM_KINDS),
    st.booleans(),
)
def test_opt_in_no_decision_never_eligible(
    other: list[tuple[str, str | None, str, int]], kind: ContentKind, recipient: bool
) -> None:
    """With no decision for the purpose, nothing is eligible, whatever else was decided."""
    decisions = [d for d in other if d[0] != "train"]
    assert _pipeline(decisions, [kind], recipient=recipient) == [Reason.NO_CONSENT]


COVERS_POSTS = [None, "posts"]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 1000),
    st.integers(1, 1000),
    st.sampled_from(COVERS_POSTS),
    st.sampled_from(COVERS_POSTS),
)
def test_later_decision_always_wins(t: int, gap: int, s1: str | None, s2: str | None) -> None:
    kind = ContentKind.POST
    grant_then_deny = [("train", s1, "grant", t), ("train", s2, "deny", t + gap)]
    deny_then_grant = [("train", s1, "deny", t), ("train", s2, "grant", t + gap)]
    assert _pipeline(grant_then_deny, [kind]) == [Reason.CONSENT_DENIED]
    assert _pipeline(deny_then_grant, [kind]) == [Reason.ELIGIBLE]
    # Ledger order does not matter, time does: the same decisions appended in reverse.
    assert _pipeline(grant_then_deny[::-1], [kind]) == [Reason.CONSENT_DENIED]
    assert _pipeline(deny_then_grant[::-1], [kind]) == [Reason.ELIGIBLE]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 100), st.integers(1, 100))
def test_scoped_assistant_deny_excludes_only_assistant(t: int, gap: int) -> None:
    decisions = [("train", None, "grant", t), ("train", "assistant", "deny", t + gap)]
    reasons = _pipeline(
        decisions, [ContentKind.POST, ContentKind.REPLY, ContentKind.ASSISTANT_PROMPT]
    )
    assert reasons == [Reason.ELIGIBLE, Reason.ELIGIBLE, Reason.CONSENT_DENIED]


@settings(max_examples=50, deadline=None)
@given(st.sampled_from([None, "grant", "deny"]), st.sampled_from(ITEM_KINDS))
def test_recipient_snapshot_also_needs_share(share: str | None, kind: ContentKind) -> None:
    decisions: list[tuple[str, str | None, str, int]] = [("train", None, "grant", 1)]
    if share:
        decisions.append(("share", None, share, 2))
    expected = Reason.ELIGIBLE if share == "grant" else Reason.NO_SHARE_CONSENT
    assert _pipeline(decisions, [kind], recipient=True) == [expected]
    assert _pipeline(decisions, [kind], recipient=False) == [Reason.ELIGIBLE]


def test_frame_keeps_item_order_and_unknown_authors() -> None:
    state = fold_consent_state(_ledger_rows([("train", None, "grant", 1)]), None)
    index = StateIndex(_accounts(), state, "train", recipient=False)
    items = pa.table(
        {
            "author_id": ["a", "stranger", "a", "a"],
            "kind": ["post", "post", "dm", "assistant_response"],
            "visibility": ["public", "public", "direct", "direct"],
            "deleted": [False, False, False, True],
        }
    )
    frame = index.frame(items)
    reasons = [Reason(int(x)) for x in verdicts(frame, POLICY, "train", recipient=False, on=ON)]
    assert reasons == [
        Reason.ELIGIBLE,
        Reason.ACCOUNT_INACTIVE,
        Reason.DIRECT_MESSAGE,
        Reason.CONTENT_DELETED,
    ]
    assert frame["consent_seq"].to_pylist() == [1, None, 1, 1]
