"""Tampering behind the ledger's back, with plain SQL on the database: ``verify`` must catch each
edit and name the first bad entry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from tests.ledger.ledger_support import Backend, at, deny, grant

from consentry.errors import LedgerIntegrityError
from consentry.ledger import EMPTY_POSITION, LedgerStore, Position
from consentry.ledger.entries import (
    PAYLOAD_FIELDS,
    ROW_FIELDS,
    chain_hash,
    decision_payload,
    encode_payload,
    payload_digest,
)
from consentry.model import AccountChange, ConsentDecision

N = 10


@dataclass(frozen=True)
class Published:
    """A ledger of ``N`` entries, and the head published after each entry (``heads[k]``)."""

    backend: Backend
    ledger: LedgerStore
    heads: list[Position]

    def verify_fails_at(self, seq: int, against: Position | None = None) -> str:
        with pytest.raises(LedgerIntegrityError) as caught:
            self.ledger.verify(against)
        assert caught.value.seq == seq, str(caught.value)
        return str(caught.value)


@pytest.fixture
def published(backend: Backend) -> Iterator[Published]:
    ledger = backend.open()
    heads = [EMPTY_POSITION]
    items: list[ConsentDecision | AccountChange] = [
        AccountChange("alice", at(0), {"country": "FR", "birth_date": date(1990, 1, 1)}, True),
        grant("alice", minutes=1),
        deny("alice", "share", 2, recipient="acme"),
        grant("bob", minutes=3),
        grant("carol", minutes=4),  # entry 5: the usual victim
        deny("bob", minutes=5),
        AccountChange("bob", at(6), {"protected": True}),
        grant("carol", "answer", 7),
        deny("alice", minutes=8),
        grant("dave", minutes=9),
    ]
    for item in items:
        heads.append(ledger.append([item]))
    assert len(heads) == N + 1
    yield Published(backend, ledger, heads)
    ledger.close()


def test_an_intact_ledger_verifies_with_its_head_and_count(published: Published) -> None:
    report = published.ledger.verify()
    assert report.head == published.heads[N] and report.entries == N
    for head in published.heads:  # against every head ever published
        assert published.ledger.verify(against=head).head == published.heads[N]
    forged = Position(4, "00" * 32)
    assert "rewritten" in published.verify_fails_at(4, against=forged)
    with pytest.raises(LedgerIntegrityError, match="genesis"):
        published.ledger.verify(against=Position(0, "11" * 32))


def test_flipping_a_decision_is_caught(published: Published) -> None:
    assert published.backend.execute("SELECT decision FROM ledger_entries WHERE seq = 5") == [
        ("grant",)
    ]
    published.backend.execute("UPDATE ledger_entries SET decision = 'deny' WHERE seq = 5")
    assert "entry 5 was altered" in published.verify_fails_at(5)


@pytest.mark.parametrize(
    ("column", "value"),
    [("account_id", "mallory"), ("at_us", 0), ("purpose", "answer"), ("scope", "posts")],
)
def test_changing_any_field_is_caught(published: Published, column: str, value: object) -> None:
    published.backend.execute(f"UPDATE ledger_entries SET {column} = ? WHERE seq = 5", (value,))
    assert "entry 5 was altered" in published.verify_fails_at(5)


def test_changing_an_account_attribute_is_caught(published: Published) -> None:
    published.backend.execute("UPDATE ledger_entries SET protected = 0 WHERE seq = 7")
    assert "entry 7 was altered" in published.verify_fails_at(7)


def test_deleting_an_entry_in_the_middle_is_caught(published: Published) -> None:
    published.backend.execute("DELETE FROM ledger_entries WHERE seq = 5")
    assert "entry 5 is missing" in published.verify_fails_at(5)


def test_deleting_the_last_entries_is_caught_against_a_published_head(
    published: Published,
) -> None:
    published.backend.execute("DELETE FROM ledger_entries WHERE seq > 7")
    # On its own the shortened chain is consistent: only a published head can tell.
    assert published.ledger.verify().head == published.heads[7]
    message = published.verify_fails_at(8, against=published.heads[N])
    assert "entries were removed" in message
    assert published.ledger.verify(against=published.heads[6]).entries == 7


def test_swapping_two_entries_is_caught(published: Published) -> None:
    ex = published.backend.execute
    ex("UPDATE ledger_entries SET seq = -1 WHERE seq = 4")
    ex("UPDATE ledger_entries SET seq = 4 WHERE seq = 6")
    ex("UPDATE ledger_entries SET seq = 6 WHERE seq = -1")
    assert "entry 4 does not link to entry 3" in published.verify_fails_at(4)


def test_a_forged_hash_is_caught(published: Published) -> None:
    # Editing the last entry's hash cannot be caught by a successor's link: the hash itself is
    # recomputed.
    published.backend.execute(f"UPDATE ledger_entries SET hash = ? WHERE seq = {N}", (bytes(32),))
    assert f"entry {N} has a forged hash" in published.verify_fails_at(N)


def _rows(backend: Backend) -> list[dict[str, Any]]:
    rows = backend.execute(f"SELECT {', '.join(ROW_FIELDS)} FROM ledger_entries ORDER BY seq")
    return [dict(zip(ROW_FIELDS, r, strict=True)) for r in rows]


def _payload(row: dict[str, Any]) -> tuple[str | int | None, ...]:
    return tuple(row[f] for f in PAYLOAD_FIELDS)


def test_an_inserted_self_consistent_entry_is_caught(published: Published) -> None:
    """A forger inserts an entry 5 that links correctly to entry 4 (hash recomputed) and shifts
    the rest up by one. Entry 6 (the old 5) then no longer links to its predecessor."""
    ex = published.backend.execute
    prev = bytes.fromhex(published.heads[4].hash)
    payload = decision_payload(deny("alice", minutes=4), recorded_us=0)
    salt = bytes(16)
    digest = payload_digest(salt, payload)
    # Two steps so that no intermediate state breaks the primary key.
    ex("UPDATE ledger_entries SET seq = -seq WHERE seq >= 5")
    ex("UPDATE ledger_entries SET seq = 1 - seq WHERE seq < 0")
    ex(
        f"INSERT INTO ledger_entries ({', '.join(ROW_FIELDS)})"
        f" VALUES ({', '.join('?' for _ in ROW_FIELDS)})",
        (5, *payload, salt, digest, prev, chain_hash(prev, 5, digest)),
    )
    assert published.ledger.count() == N + 1
    assert "entry 6 does not link to entry 5" in published.verify_fails_at(6)


@pytest.mark.parametrize("seq", [0, -7])
def test_an_entry_slipped_in_before_the_first_is_caught(published: Published, seq: int) -> None:
    """Every "as of position" query counts entries with ``seq <= position``, so an entry at
    seq 0 or below would count everywhere; verify must see it too."""
    row = published.backend.execute(
        f"SELECT {', '.join(ROW_FIELDS)} FROM ledger_entries WHERE seq = 5"
    )[0]
    published.backend.execute(
        f"INSERT INTO ledger_entries ({', '.join(ROW_FIELDS)})"
        f" VALUES ({', '.join('?' for _ in ROW_FIELDS)})",
        (seq, *row[1:]),
    )
    assert "entry 1 is out of order" in published.verify_fails_at(1)


def test_a_consistent_rewrite_is_caught_only_against_a_published_head(
    published: Published,
) -> None:
    """Someone with write access to the database flips entry 5 and recomputes every later hash:
    the chain is self-consistent again and ``verify()`` alone cannot notice. This is exactly why
    heads are published (in every snapshot manifest): the entry at a published sequence number
    no longer carries the published hash."""
    ex = published.backend.execute
    rows = _rows(published.backend)
    k = 5
    rows[k - 1]["decision"] = "deny"
    prev = bytes.fromhex(published.heads[k - 1].hash)
    for row in rows[k - 1 :]:
        digest = payload_digest(bytes(row["salt"]), _payload(row))
        row["payload_hash"], row["prev_hash"] = digest, prev
        row["hash"] = prev = chain_hash(prev, int(row["seq"]), digest)
        ex(
            "UPDATE ledger_entries SET decision = ?, payload_hash = ?, prev_hash = ?, hash = ?"
            " WHERE seq = ?",
            (row["decision"], row["payload_hash"], row["prev_hash"], row["hash"], row["seq"]),
        )
    report = published.ledger.verify()  # undetectable without a published head…
    assert report.entries == N and report.head != published.heads[N]
    for seq in range(k, N + 1):  # …detected against any head published from entry k on
        message = published.verify_fails_at(seq, against=published.heads[seq])
        assert f"history was rewritten: entry {seq}" in message
    # History before the rewrite is intact: heads published before entry k still verify.
    assert published.ledger.verify(against=published.heads[k - 1]).entries == N


def test_the_payload_encoding_is_unambiguous() -> None:
    # A value containing the separator cannot impersonate two fields (netstrings carry lengths).
    assert encode_payload(("a|1:b",)) != encode_payload(("a", "b"))
    assert encode_payload((None,)) != encode_payload(("-",))
