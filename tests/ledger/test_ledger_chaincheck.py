"""The vectorised batch check behind ``verify`` agrees with the entry-by-entry reference: same
encodings, accepts every intact batch, rejects what the walk rejects."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from tests.ledger.ledger_support import Backend, at, grant

from consentry.errors import LedgerIntegrityError
from consentry.ledger import LedgerStore, Position
from consentry.ledger.chaincheck import BATCH_SQL, check_batch, encoded_payloads
from consentry.ledger.entries import GENESIS_HASH, PAYLOAD_FIELDS, ROW_FIELDS, encode_payload
from consentry.model import AccountChange, AccountStatus, ConsentDecision, Decision, Source

AWKWARD = ["zoë", "🙂 emoji", "中文", "a|1:b", "-", "", " ", "x" * 300, "tab\there"]


def awkward_history() -> list[ConsentDecision | AccountChange]:
    items: list[ConsentDecision | AccountChange] = []
    for i, text in enumerate(AWKWARD):
        account = f"acct {text}" if text else "acct"
        items.append(
            ConsentDecision(
                account, "share", Decision.GRANT, at(i), Source.API, None, text, text or None
            )
        )
        items.append(
            AccountChange(
                account,
                at(i),
                {"country": text or None, "birth_date": date(2001, 2, 3), "protected": i % 2 == 0},
                created=i % 2 == 0,
            )
        )
    items.append(
        AccountChange("zed", at(20), {"birth_date": None, "status": AccountStatus.DELETED})
    )
    return items


def test_batch_encodings_equal_the_reference_encoding(ledger: LedgerStore) -> None:
    ledger.append(awkward_history())
    table = ledger._query_arrow(ledger._sql(BATCH_SQL), (0, 1000))
    rows = ledger._query(f"SELECT {', '.join(ROW_FIELDS)} FROM ledger_entries ORDER BY seq")
    expected = [encode_payload(row[1 : 1 + len(PAYLOAD_FIELDS)]) for row in rows]
    assert encoded_payloads(table).to_pylist() == expected


def test_an_intact_ledger_is_accepted_batch_by_batch(ledger: LedgerStore) -> None:
    ledger.append(awkward_history())
    ledger.append([grant(f"a{i}", minutes=i) for i in range(30)])
    head = ledger.head()
    sql = ledger._sql(BATCH_SQL)
    expected, prev, after, matched = 1, GENESIS_HASH, 0, False
    against = ledger.position_at(25)
    while (table := ledger._query_arrow(sql, (after, 7))).num_rows:
        checked = check_batch(table, expected, prev, against)
        assert checked is not None, f"intact batch after {after} was not accepted"
        expected, prev, hit = checked
        matched |= hit
        after = expected - 1
    assert (expected - 1, prev.hex()) == (head.seq, head.hash) and matched


def test_a_batch_is_not_accepted_out_of_place(ledger: LedgerStore) -> None:
    ledger.append([grant(f"a{i}", minutes=i) for i in range(5)])
    table = ledger._query_arrow(ledger._sql(BATCH_SQL), (0, 10))
    assert check_batch(table, 1, GENESIS_HASH, None) is not None
    assert check_batch(table, 2, GENESIS_HASH, None) is None  # wrong place in the sequence
    assert check_batch(table, 1, bytes(range(32)), None) is None  # does not follow that head
    wrong = Position(3, "ab" * 32)
    assert check_batch(table, 1, GENESIS_HASH, wrong) is None  # a rewritten published head
    assert check_batch(table.slice(0, 0), 1, GENESIS_HASH, None) is None


@pytest.mark.parametrize(
    ("tamper", "storage_class"),
    [
        ("account_id = CAST(account_id AS BLOB)", "blob"),  # same characters, as bytes
        ("protected = 1.5", "real"),  # int() would truncate it to the 1 that was hashed
    ],
)
def test_sqlite_storage_class_tricks_are_caught(
    tmp_path: Path, tamper: str, storage_class: str
) -> None:
    """SQLite stores whatever it is given: a value of another storage class is not the value
    that was hashed, even when it prints or truncates the same."""
    backend = Backend("sqlite", f"sqlite:///{tmp_path / 'ledger.db'}")
    column = tamper.split()[0]
    with backend.open() as ledger:
        ledger.append([grant("a1"), AccountChange("a2", at(1), {"protected": True}, True)])
        ledger.append([grant(f"a{i}", minutes=i) for i in range(3, 6)])
        backend.execute(f"UPDATE ledger_entries SET {tamper} WHERE seq = 2")
        typeof = backend.execute(f"SELECT typeof({column}) FROM ledger_entries WHERE seq = 2")
        assert typeof == [(storage_class,)]
        table = ledger._query_arrow(ledger._sql(BATCH_SQL), (0, 10))
        assert check_batch(table, 1, GENESIS_HASH, None) is None
        with pytest.raises(LedgerIntegrityError, match="entry 2 was altered"):
            ledger.verify()
