"""The answer index gives the build's verdict for every item, whatever the ledger holds: a
Hypothesis property against the batch eligibility (``oracle.batch_verdicts``), and the index
kept up incrementally (ledger entries, then a new import) equals one built from scratch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.answer.oracle import batch_verdicts

from consentry.answer import ELIGIBLE, UNKNOWN, AnswerIndex, filter_candidates
from consentry.answer.index import ITEM_COLUMNS
from consentry.ledger import open_ledger
from consentry.model import (
    AccountChange,
    AccountStatus,
    ConsentDecision,
    ContentKind,
    Decision,
    Reason,
    Scope,
    Visibility,
)
from consentry.policy.loader import default_policy_text, parse_policy

ON = date(2026, 6, 1)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
#: The default policy, plus what makes the country matter: a jurisdiction where `answer`
#: defaults to grant, one with its own minimum age, and unknown ages excluded.
POLICY = parse_policy(
    default_policy_text().replace('unknown = "include"', 'unknown = "exclude"')
    + '\n[jurisdictions.DE.purposes]\nanswer = "grant"\n[jurisdictions.US]\nminimum_age = 21\n',
    source="test",
)
ACCOUNTS = [f"a{i}" for i in range(6)]

account_st = st.fixed_dictionaries(
    {
        "created": st.booleans(),
        "country": st.sampled_from([None, "FR", "DE", "US"]),
        "birth": st.sampled_from([None, date(1990, 1, 1), date(2006, 1, 1), date(2010, 1, 1)]),
        "protected": st.booleans(),
        "status": st.sampled_from(list(AccountStatus)),
    }
)
decision_st = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from(["answer", "train"]),
    st.sampled_from([None, *Scope]),
    st.sampled_from(list(Decision)),
    st.integers(0, 50),
)
item_st = st.tuples(
    st.sampled_from([*ACCOUNTS, "stranger"]),
    st.sampled_from(list(ContentKind)),
    st.sampled_from(list(Visibility)),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 45)),  # what a repost reposts: c<n>, maybe absent
)


def _ledger_entries(
    accounts: list[dict[str, object]], decisions: list[tuple[object, ...]]
) -> list[AccountChange | ConsentDecision]:
    out: list[AccountChange | ConsentDecision] = []
    for account_id, a in zip(ACCOUNTS, accounts, strict=False):
        if not a["created"]:
            continue
        attrs = {
            "country": a["country"],
            "birth_date": a["birth"],
            "protected": a["protected"],
            "status": a["status"],
        }
        out.append(AccountChange(account_id, T0, attrs, created=True))
    for who, purpose, scope, decision, minutes in decisions:
        out.append(
            ConsentDecision(
                str(who),
                str(purpose),
                Decision(str(decision)),
                T0 + timedelta(minutes=int(str(minutes))),
                scope=None if scope is None else Scope(str(scope)),
            )
        )
    return out


def _items(rows: list[Any]) -> pa.Table:
    """Items c0, c1, … from (author, kind, visibility, deleted[, reposted item number])."""
    return pa.table(
        {
            "repost_of": pa.array(
                [
                    f"c{r[4]}" if len(r) > 4 and r[4] is not None and r[1] == "repost" else None
                    for r in rows
                ],
                pa.string(),
            ),
            "content_id": [f"c{i}" for i in range(len(rows))],
            "author_id": [r[0] for r in rows],
            "kind": [r[1].value for r in rows],
            "visibility": [r[2].value for r in rows],
            "deleted_at": pa.array(
                [T0 if r[3] else None for r in rows], pa.timestamp("us", tz="UTC")
            ),
        }
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    accounts=st.lists(account_st, min_size=6, max_size=6),
    decisions=st.lists(decision_st, max_size=12),
    rows=st.lists(item_st, min_size=1, max_size=40),
)
def test_live_verdicts_equal_the_builds(
    tmp_path_factory: pytest.TempPathFactory,
    accounts: list[dict[str, object]],
    decisions: list[tuple[object, ...]],
    rows: list[tuple[str, ContentKind, Visibility, bool, int | None]],
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    with open_ledger(f"sqlite:///{folder / 'ledger.db'}", create=True) as ledger:
        ledger.append(_ledger_entries(accounts, decisions))
        items = _items(rows)
        index = AnswerIndex.from_batches([items], ledger, POLICY)
        for purpose in ("answer", "train"):
            truth = batch_verdicts(items, ledger, POLICY, purpose, ON)
            got, found = index.reasons(items["content_id"].combine_chunks(), purpose, on=ON)
            assert found.all()
            assert got.tolist() == truth.tolist()


def test_every_reason_code_matches_and_follows_the_ledger(tmp_path: Path) -> None:
    """One item per reason code the live answer can give, then changes appended one by one,
    each followed incrementally: always the oracle's verdicts."""
    entries: list[AccountChange | ConsentDecision] = [
        AccountChange("gone", T0, {"status": AccountStatus.DELETED}, created=True),
        AccountChange("asleep", T0, {"status": AccountStatus.SUSPENDED}, created=True),
        AccountChange("kid", T0, {"birth_date": date(2015, 1, 1)}, created=True),
        AccountChange("ageless", T0, {}, created=True),
        AccountChange("shy", T0, {"protected": True, "birth_date": date(1990, 1, 1)}, created=True),
        AccountChange("ok", T0, {"birth_date": date(1990, 1, 1), "country": "FR"}, created=True),
        AccountChange("no", T0, {"birth_date": date(1990, 1, 1)}, created=True),
        AccountChange("undecided", T0, {"birth_date": date(1990, 1, 1)}, created=True),
        ConsentDecision("ok", "answer", Decision.GRANT, T0),
        ConsentDecision("no", "answer", Decision.DENY, T0),
    ]
    rows = [
        ("gone", ContentKind.POST, Visibility.PUBLIC, False),
        ("asleep", ContentKind.POST, Visibility.PUBLIC, False),
        ("kid", ContentKind.POST, Visibility.PUBLIC, False),
        ("ageless", ContentKind.POST, Visibility.PUBLIC, False),
        ("shy", ContentKind.POST, Visibility.PUBLIC, False),
        ("ok", ContentKind.DM, Visibility.DIRECT, False),
        ("ok", ContentKind.POST, Visibility.FOLLOWERS, False),
        ("ok", ContentKind.POST, Visibility.PUBLIC, True),
        ("ok", ContentKind.POST, Visibility.PUBLIC, False),
        ("ok", ContentKind.ASSISTANT_PROMPT, Visibility.DIRECT, False),
        ("no", ContentKind.POST, Visibility.PUBLIC, False),
        ("nobody", ContentKind.POST, Visibility.PUBLIC, False),
        ("undecided", ContentKind.POST, Visibility.PUBLIC, False),
    ]
    items = _items(rows)
    at = items.schema.get_field_index("content_id")
    items = items.set_column(
        at, "content_id", pa.array([f"{r[0]}-{i}" for i, r in enumerate(rows)])
    )
    # Reposts by "ok": of "no"'s post (denied), of "ok"'s own public post, of nothing imported.
    reposts = pa.table(
        {
            "repost_of": ["no-10", "ok-8", "gone-forever"],
            "content_id": ["r-1", "r-2", "r-3"],
            "author_id": ["ok"] * 3,
            "kind": ["repost"] * 3,
            "visibility": ["public"] * 3,
            "deleted_at": pa.nulls(3, pa.timestamp("us", tz="UTC")),
        }
    )
    items = pa.concat_tables([items, reposts.cast(items.schema)])
    ids = items["content_id"].to_pylist()
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", create=True) as ledger:
        ledger.append(entries)
        index = AnswerIndex.from_batches([items], ledger, POLICY)
        got, _ = index.reasons(ids, "answer", on=ON)
        truth = batch_verdicts(items, ledger, POLICY, "answer", ON)
        assert got.tolist() == truth.tolist()
        wanted = {
            Reason.ACCOUNT_DELETED,
            Reason.ACCOUNT_INACTIVE,
            Reason.MINOR,
            Reason.AGE_UNKNOWN,
            Reason.PROTECTED_ACCOUNT,
            Reason.DIRECT_MESSAGE,
            Reason.NOT_PUBLIC,
            Reason.CONTENT_DELETED,
            Reason.NO_CONSENT,
            Reason.CONSENT_DENIED,
            Reason.ORIGINAL_UNAVAILABLE,
            Reason.ELIGIBLE,
        }
        assert wanted <= {Reason(int(r)) for r in truth}
        changes: list[AccountChange | ConsentDecision] = [
            ConsentDecision(
                "ok", "answer", Decision.DENY, T0 + timedelta(days=1), scope=Scope.POSTS
            ),
            ConsentDecision("no", "answer", Decision.GRANT, T0 + timedelta(days=1)),
            AccountChange("ok", T0 + timedelta(days=2), {"protected": True}),
            AccountChange("no", T0 + timedelta(days=2), {"status": AccountStatus.ERASED}),
            AccountChange("nobody", T0, {"birth_date": date(1980, 1, 1)}, created=True),
        ]
        for change in changes:
            head = ledger.append([change])
            account = change.account_id
            index.apply_ledger(ledger, [account], head.seq)
            got, _ = index.reasons(ids, "answer", on=ON)
            truth = batch_verdicts(items, ledger, POLICY, "answer", ON)
            assert got.tolist() == truth.tolist(), change
        assert index.seq == ledger.head().seq


def test_unknown_ids_and_the_retrieval_filter(tmp_path: Path) -> None:
    entries: list[AccountChange | ConsentDecision] = [
        AccountChange("ok", T0, {"birth_date": date(1990, 1, 1)}, created=True),
        ConsentDecision("ok", "answer", Decision.GRANT, T0),
    ]
    rows = [("ok", ContentKind.POST, Visibility.PUBLIC, False)] * 3
    items = _items(rows)
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", create=True) as ledger:
        ledger.append(entries)
        index = AnswerIndex.from_batches([items], ledger, POLICY)
        found = index.verdicts(["c2", "never-seen", "c0"], "answer", on=ON)
        assert found.codes == [ELIGIBLE, UNKNOWN, ELIGIBLE]
        assert index.item_bytes / len(index) <= 16

        def ask(ids: object) -> list[str]:
            return index.verdicts(list(ids), "answer", on=ON).codes  # type: ignore[call-overload]

        assert filter_candidates(["never-seen", "c1", "c0"], ask, limit=1) == ["c1"]
        head = ledger.append(
            [ConsentDecision("ok", "answer", Decision.DENY, T0 + timedelta(hours=1))]
        )
        index.apply_ledger(ledger, ["ok"], head.seq)
        assert filter_candidates(["c0", "c1", "c2"], ask) == []


def test_a_new_import_is_merged_without_a_rebuild(tmp_path: Path) -> None:
    """Items added and changed (a deletion) by a later batch: merged, the verdicts those of an
    index built from the final items."""
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", create=True) as ledger:
        ledger.append(
            [
                AccountChange("ok", T0, {"birth_date": date(1990, 1, 1)}, created=True),
                AccountChange("new", T0, {"birth_date": date(1990, 1, 1)}, created=True),
                ConsentDecision("ok", "answer", Decision.GRANT, T0),
                ConsentDecision("new", "answer", Decision.GRANT, T0),
            ]
        )
        first = _items([("ok", ContentKind.POST, Visibility.PUBLIC, False)] * 4)
        index = AnswerIndex.from_batches([first], ledger, POLICY)
        later = pa.table(
            {
                "repost_of": [None, None],
                "content_id": ["c1", "c9"],
                "author_id": ["ok", "new"],
                "kind": ["post", "post"],
                "visibility": ["public", "public"],
                "deleted_at": pa.array([T0, None], pa.timestamp("us", tz="UTC")),
            }
        )
        index._merge(later.select(list(ITEM_COLUMNS)), ledger)
        found = index.verdicts(["c0", "c1", "c9"], "answer", on=ON)
        assert found.codes == [ELIGIBLE, "content_deleted", ELIGIBLE]
        assert len(index) == 5
        assert np.all(np.diff(index.keys.astype(np.float64)) >= 0)
