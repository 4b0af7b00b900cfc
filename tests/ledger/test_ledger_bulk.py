"""Entries appended as Arrow columns (``ledger.bulk``): the same payload bytes, the same chain and
the same refusals as ``LedgerStore.append`` of the equivalent objects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.errors import UsageError
from consentry.ledger import LedgerStore
from consentry.ledger.bulk import (
    ACCOUNT_CHANGE_SCHEMA,
    DECISION_SCHEMA,
    account_payloads,
    chain_table,
    decision_payloads,
    encode_payloads,
)
from consentry.ledger.entries import (
    ATTR_BIT,
    GENESIS_HASH,
    account_payload,
    chain_rows,
    decision_payload,
    encode_payload,
)
from consentry.model import (
    ACCOUNT_ATTRIBUTES,
    AccountChange,
    AccountStatus,
    ConsentDecision,
    Decision,
    Scope,
    Source,
)

RECORDED = 1_722_000_000_123_456


def decision_table(items: list[ConsentDecision]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "account_id": d.account_id,
                "purpose": d.purpose,
                "decision": d.decision.value,
                "at": d.at,
                "source": d.source.value,
                "scope": d.scope.value if d.scope else None,
                "notice_version": d.notice_version,
                "recipient": d.recipient,
            }
            for d in items
        ],
        schema=DECISION_SCHEMA,
    )


def account_row(c: AccountChange, full: dict[str, object]) -> dict[str, object]:
    """A staged row: every attribute column filled (``full``), the mask says which count."""
    mask = 0
    for name in c.attrs:
        mask |= ATTR_BIT[name]
    return {"account_id": c.account_id, "at": c.at, "created": c.created, "attr_mask": mask, **full}


texts = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12
).filter(lambda s: "\x00" not in s)
times = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2024, 1, 1), timezones=st.just(UTC)
)
decisions = st.builds(
    ConsentDecision,
    account_id=texts,
    purpose=st.sampled_from(["train", "fine_tune", "answer"]),
    decision=st.sampled_from(list(Decision)),
    at=times,
    source=st.sampled_from(list(Source)),
    scope=st.none() | st.sampled_from(list(Scope)),
    notice_version=st.none() | texts,
)


@settings(max_examples=50, deadline=None)
@given(st.lists(decisions, min_size=1, max_size=20))
def test_decision_payloads_encode_as_the_objects_do(items: list[ConsentDecision]) -> None:
    encoded = encode_payloads(decision_payloads(decision_table(items), RECORDED))
    assert encoded == [encode_payload(decision_payload(d, RECORDED)) for d in items]


full_states = st.fixed_dictionaries(
    {
        "country": st.none() | st.sampled_from(["FR", "DE", "US"]),
        "birth_date": st.none() | st.dates(min_value=date(1900, 1, 1)),
        "protected": st.none() | st.booleans(),
        "status": st.sampled_from([s.value for s in AccountStatus]),
    }
)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            texts, times, st.booleans(), st.sets(st.sampled_from(ACCOUNT_ATTRIBUTES)), full_states
        ),
        min_size=1,
        max_size=20,
    )
)
def test_account_payloads_encode_as_the_objects_do(
    rows: list[tuple[str, datetime, bool, set[str], dict[str, object]]],
) -> None:
    changes, staged = [], []
    for account, at, created, names, full in rows:
        attrs: dict[str, object] = {
            n: (AccountStatus(str(full[n])) if n == "status" else full[n]) for n in names
        }
        change = AccountChange(account, at, attrs, created=created)
        changes.append(change)
        staged.append(account_row(change, full))
    table = pa.Table.from_pylist(staged, schema=ACCOUNT_CHANGE_SCHEMA)
    encoded = encode_payloads(account_payloads(table, RECORDED))
    assert encoded == [encode_payload(account_payload(c, RECORDED)) for c in changes]


def test_chain_table_is_chain_rows_with_other_salts() -> None:
    at = datetime(2024, 7, 27, 8, tzinfo=UTC)
    items = [
        ConsentDecision("1001", "train", Decision.GRANT, at, Source.WEB, Scope.POSTS, "v1"),
        ConsentDecision("1002", "share", Decision.DENY, at, Source.APP, recipient="acme"),
    ]
    payloads = decision_payloads(decision_table(items), RECORDED)
    rows, head = chain_table(payloads, 7, GENESIS_HASH)
    expected, _ = chain_rows([decision_payload(d, RECORDED) for d in items], 7, GENESIS_HASH)
    assert [r[:16] for r in rows] == [r[:16] for r in expected]  # seq and payload
    assert rows[0][-2] == GENESIS_HASH and rows[1][-2] == rows[0][-1]
    assert head == rows[-1][-1]


def test_append_tables_verifies_and_reads_back_as_append(ledger: LedgerStore) -> None:
    at = datetime(2024, 7, 27, 8, tzinfo=UTC)
    accounts = pa.Table.from_pylist(
        [
            account_row(
                AccountChange(
                    "1001",
                    at,
                    {"country": "FR", "birth_date": None, "protected": False, "status": "active"},
                    created=True,
                ),
                {"country": "FR", "birth_date": None, "protected": False, "status": "active"},
            ),
            account_row(
                AccountChange("1001", at + timedelta(hours=1), {"protected": True}),
                {"country": "FR", "birth_date": None, "protected": True, "status": "active"},
            ),
        ],
        schema=ACCOUNT_CHANGE_SCHEMA,
    )
    items = [ConsentDecision("1001", "train", Decision.GRANT, at, Source.WEB, Scope.POSTS)]
    ledger.append_tables([accounts], account_payloads)
    head = ledger.append_tables([decision_table(items)], decision_payloads)
    assert head.seq == 3
    assert ledger.verify().entries == 3
    history = ledger.account_history("1001")
    assert [e.kind.value for e in history] == ["account_created", "account_changed", "consent"]
    assert history[1].attrs == {"protected": True}
    assert history[0].attrs == {
        "country": "FR",
        "birth_date": None,
        "protected": False,
        "status": "active",
    }
    assert history[2].scope == "posts" and history[2].decision == "grant"


def test_append_tables_refuses_what_append_refuses(ledger: LedgerStore) -> None:
    at = datetime(2024, 7, 27, 8, tzinfo=UTC)
    future = datetime.now(UTC) + timedelta(days=1)
    refused = [
        (ConsentDecision("1001", "train", Decision.GRANT, future, Source.WEB), "in the future"),
        (ConsentDecision("", "train", Decision.GRANT, at, Source.WEB), "account id is empty"),
        (
            ConsentDecision("1001", "train", Decision.GRANT, at, Source.WEB, recipient="acme"),
            "only a share decision",
        ),
    ]
    for item, message in refused:
        with pytest.raises(UsageError, match=message):
            ledger.append([item])
        with pytest.raises(UsageError, match=message):
            ledger.append_tables([decision_table([item])], decision_payloads)
    assert ledger.head().seq == 0
