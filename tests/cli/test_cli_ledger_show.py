"""`consentry ledger show SEQ`: one entry, whose hash is what `ledger verify --against` takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Run

ACCOUNTS = [
    {
        "id": "1001",
        "handle": "alice",
        "created_at": "2021-03-04T10:00:00Z",
        "country": "FR",
        "birth_date": "1990-05-01",
        "protected": False,
        "status": "active",
    },
    {
        "id": "1002",
        "handle": "bob",
        "created_at": "2022-01-02T03:04:05+02:00",
        "country": "DE",
        "birth_date": None,
        "protected": True,
        "status": "active",
    },
]
CONTENT = [
    {
        "id": "9001",
        "author_id": "1001",
        "kind": "post",
        "text": "bonjour",
        "created_at": "2024-07-26T12:40:00Z",
        "visibility": "public",
    }
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, run: Run, tmp_path: Path) -> Run:
    """A workspace whose ledger holds two imported accounts (entries 1 and 2), on the embedded
    SQLite database and on PostgreSQL."""
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
        request.getfixturevalue("monkeypatch").setenv("CONSENTRY_DB", url)
    export = tmp_path / "export"
    export.mkdir()
    for name, rows in (("accounts", ACCOUNTS), ("content", CONTENT), ("consent", [])):
        (export / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run("init")
    run("import", "canonical", str(export))
    return run


def show(run: Run, *args: str) -> dict[str, str]:
    """`ledger show`'s lines as name → value."""
    out = run("ledger", "show", *args).output
    return dict(line.split(None, 1) for line in out.splitlines())


def test_an_account_entry_shows_its_chain_fields_and_attributes(ledger: Run) -> None:
    first, second = show(ledger, "1"), show(ledger, "2")
    assert first["seq"] == "1" and first["prev_hash"] == "0" * 64
    assert second["prev_hash"] == first["hash"] and len(second["hash"]) == 64
    assert first["kind"] == "account_created" and first["account_id"] == "1001"
    assert first["at"] == "2021-03-04T10:00:00+00:00" and "recorded_at" in first
    assert (first["country"], first["birth_date"], first["protected"]) == (
        "FR",
        "1990-05-01",
        "false",
    )
    # A birth date recorded as unknown is said so; what a consent entry carries is absent.
    assert second["birth_date"] == "unknown" and second["protected"] == "true"
    assert second["at"] == "2022-01-02T01:04:05+00:00"
    assert not {"purpose", "decision", "scope", "source"} & set(first)


def test_a_consent_entry_shows_what_was_decided_and_nothing_it_does_not_carry(
    ledger: Run,
) -> None:
    ledger("recipient", "add", "acme-ai")
    ledger("consent", "grant", "1001", "share", "--recipient", "acme-ai", "--notice", "2024-07")
    ledger("consent", "deny", "1001", "train", "--at", "2024-08-01T08:00:00Z")
    head = int(ledger("ledger", "head").output.split(":")[0])
    share, train = show(ledger, str(head - 1)), show(ledger, str(head))
    assert share["kind"] == "consent" and share["purpose"] == "share"
    assert (share["decision"], share["recipient"], share["notice_version"]) == (
        "grant",
        "acme-ai",
        "2024-07",
    )
    assert share["source"] == "cli" and "scope" not in share
    assert train["decision"] == "deny" and train["at"] == "2024-08-01T08:00:00+00:00"
    assert not {"scope", "recipient", "notice_version", "country", "status"} & set(train)


def test_the_hash_it_prints_is_the_one_verify_against_takes(ledger: Run) -> None:
    head = ledger("ledger", "head").output.strip()
    seq, digest = head.split(":")
    assert ledger("ledger", "show", seq, "--field", "hash").output == digest + "\n"
    one = ledger("ledger", "show", "1", "--field", "hash").output.strip()
    out = ledger("ledger", "verify", "--against", f"1:{one}").output
    assert "history up to published head 1 is intact" in out
    doc = json.loads(ledger("ledger", "show", seq, "--json").output)
    assert doc["hash"] == digest and doc["seq"] == int(seq) and doc["protected"] is True


def test_an_entry_beyond_the_head_or_an_unknown_field_is_a_clear_error(ledger: Run) -> None:
    out = ledger("ledger", "show", "3", code=2).output
    assert "the ledger has no entry 3: its head is entry 2" in out
    assert "Traceback" not in out
    out = ledger("ledger", "show", "1", "--field", "purpose", code=2).output
    assert "entry 1 has no field 'purpose'" in out and "prev_hash" in out
    ledger("ledger", "show", "0", code=2)
