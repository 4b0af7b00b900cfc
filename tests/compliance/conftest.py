"""The small platform of the compliance CLI tests (every record known), and `consentry …`
run in a workspace holding it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from tests.cli.conftest import invoker
from typer.testing import Result

from consentry.cli import common
from consentry.scrub.pseudonym import Pseudonymiser

SECRET = "ab" * 32
Run = Callable[..., Result]

ACCOUNTS = [
    {"id": "a1", "handle": "ann", "created_at": "2021-01-01T00:00:00Z", "country": "FR",
     "birth_date": "1990-01-01", "protected": False, "status": "active"},
    {"id": "a2", "handle": "bob", "created_at": "2021-01-01T00:00:00Z", "country": "FR",
     "birth_date": "1985-01-01", "protected": False, "status": "active"},
    {"id": "a3", "handle": "cat", "created_at": "2021-01-01T00:00:00Z", "country": "DE",
     "birth_date": "1980-01-01", "protected": False, "status": "active"},
    {"id": "a4", "handle": "dan", "created_at": "2021-01-01T00:00:00Z", "country": "DE",
     "birth_date": "1970-01-01", "protected": False, "status": "active"},
]  # fmt: skip


def post(cid: str, author: str, kind: str = "post", **extra: Any) -> dict[str, Any]:
    row = {
        "id": cid,
        "author_id": author,
        "kind": kind,
        "text": f"text of {cid}, all different",
        "created_at": "2024-03-01T10:00:00Z",
        "lang": "en",
        "visibility": "public",
    }
    row.update(extra)
    return row


CONTENT = [
    post("p1", "a1"),
    post("p2", "a1", "reply", in_reply_to="q1"),
    post("p3", "a1", "assistant_prompt", visibility="direct", conversation_id="conv1"),
    post("p4", "a1", "assistant_response", visibility="direct", conversation_id="conv1"),
    post("q1", "a2"),
    post("q2", "a2"),
    post("r1", "a3", "repost", text="RT @bob: text of q1", repost_of="q1"),
    post("s1", "a3"),
    post("s2", "a3"),
    post("t1", "a4"),
]
INTERACTIONS = [
    {"account_id": "a1", "content_id": "q1", "kind": "like", "at": "2024-03-02T10:00:00Z"},
    {"account_id": "a3", "content_id": "p1", "kind": "like", "at": "2024-03-02T10:00:00Z"},
]
GRANTED = ("a1", "a2", "a3", "a4")
CONSENT = [
    {"account_id": a, "purpose": p, "decision": "grant", "at": "2024-01-01T00:00:00Z",
     "source": "web"}
    for a in GRANTED for p in ("train", "share") if not (a == "a4" and p == "share")
]  # fmt: skip


def write_export(
    folder: Path, content: list[dict[str, Any]], accounts: list[dict[str, Any]]
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (
        ("accounts", accounts),
        ("content", content),
        ("consent", CONSENT),
        ("interactions", INTERACTIONS),
    ):
        with (folder / f"{name}.jsonl").open("w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
    return folder


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def run(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`consentry ARGS…` in a workspace holding the small platform, with recipient acme; on
    the embedded SQLite database and on PostgreSQL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONSENTRY_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("CONSENTRY_SECRET", SECRET)
    monkeypatch.delenv("CONSENTRY_NOW", raising=False)
    if request.param == "postgres":
        monkeypatch.setenv("CONSENTRY_DB", str(request.getfixturevalue("postgres_url")))
    else:
        monkeypatch.delenv("CONSENTRY_DB", raising=False)
    monkeypatch.setattr(common.console, "width", 200)
    monkeypatch.setattr(common.err_console, "width", 200)
    invoke = invoker()
    invoke("init")
    invoke("import", "canonical", str(write_export(tmp_path / "export", CONTENT, ACCOUNTS)))
    invoke("recipient", "add", "acme", "--contact", "dpo@acme.example", "--ack-days", "10")
    return invoke


def pseudonyms(recipient: str | None) -> Pseudonymiser:
    return Pseudonymiser(bytes.fromhex(SECRET), recipient)


def record_id(cid: str) -> str:
    return pseudonyms("acme").content(cid)


def account_pseudonym(aid: str) -> str:
    return Pseudonymiser(bytes.fromhex(SECRET), "acme").account(aid)


def feed(run: Run, *args: str) -> tuple[list[dict[str, Any]], str]:
    """A page of acme's feed (or of the feed ``args`` name: ``--internal``), and its cursor."""
    holder = [] if "--internal" in args or "--recipient" in args else ["--recipient", "acme"]
    result = run("compliance", "feed", *holder, *args)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    cursor = result.stderr.split("next-cursor:")[1].strip()
    return lines, cursor


def all_events(run: Run) -> list[dict[str, Any]]:
    return feed(run, "--since", "0", "--limit", "100000")[0]


def records_of(folder: Path) -> set[str]:
    return set(pq.read_table(folder / "data")["record_id"].to_pylist())
