"""Choices in words through the CLI: `consent show` and `export` show every per-recipient share
decision, and say what a Global Privacy Control signal does as the service does; `--version`."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import Server

from consentry.api import tokens
from consentry.api.settings import ServiceSettings
from consentry.workspace import Workspace

from .conftest import Run


def _table(out: str) -> list[tuple[str, ...]]:
    """(purpose, scope, choice, for, since, entry) of each row of `consent show`'s table."""
    return [
        tuple(cell.strip() for cell in line.split("│")[1:7])
        for line in out.splitlines()
        if line.startswith("│")
    ]


@pytest.fixture
def decided(run: Run) -> Run:
    run("init")
    for recipient in ("acme", "bolt"):  # a share decision names only a registered recipient
        run("recipient", "add", recipient)
    run("consent", "grant", "1001", "train", "--at", "2024-07-27T08:00:00Z")
    run("consent", "grant", "1001", "share", "--recipient", "acme", "--at", "2024-07-28T08:00:00Z")
    run(
        "consent", "deny", "1001", "share", "--recipient", "bolt", "--scope", "assistant",
        "--at", "2024-07-29T08:00:00Z",
    )  # fmt: skip
    return run


def test_show_says_every_choice_in_words_with_each_recipient(decided: Run) -> None:
    rows = _table(decided("consent", "show", "1001").output)
    assert ("train", "posts", "granted", "", "2024-07-27 08:00:00Z", "1") in rows
    assert ("fine_tune", "posts", "denied (opt-in default)", "", "", "") in rows
    assert ("share", "posts", "denied (opt-in default)", "anyone", "", "") in rows
    # One line for acme (every scope the same), one per scope for bolt, which differ.
    assert ("share", "all", "granted", "acme", "2024-07-28 08:00:00Z", "2") in rows
    bolt = [r for r in rows if r[3] == "bolt"]
    assert ("share", "assistant", "denied", "bolt", "2024-07-29 08:00:00Z", "3") in bolt
    assert ("share", "posts", "denied (opt-in default)", "bolt", "", "") in bolt
    assert len(bolt) == 3
    # Recipients' lines follow the general share lines, before the next purpose.
    purposes = [r[0] for r in rows]
    assert purposes.index("answer") > max(i for i, r in enumerate(rows) if r[3] == "bolt")
    # As of entry 1 no recipient was named yet.
    early = _table(decided("consent", "show", "1001", "--as-of", "1").output)
    assert not [r for r in early if r[3] in ("acme", "bolt")]


def test_show_and_the_service_agree_on_gpc(decided: Run, tmp_path: Path) -> None:
    # A share decision naming one recipient is an explicit share choice: GPC records nothing.
    out = decided("consent", "show", "1001").output
    assert "Global Privacy Control signal changes nothing" in out and "(entry 3)" in out
    assert "signal records a deny of share" in decided("consent", "show", "1002").output

    ws = Workspace.open(tmp_path / ".consentry")
    server = Server(ServiceSettings(workspace=ws, pool_size=2)).start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            for account, said in (("1001", "explicit-choice"), ("1002", "recorded")):
                token = tokens.mint(tokens.signing_key(ws), account, ttl=600)
                got = client.get(
                    "/v1/me/consent", headers={"Authorization": f"Bearer {token}", "Sec-GPC": "1"}
                )
                assert got.status_code == 200, got.text
                assert got.headers["Consentry-GPC"] == said
    finally:
        server.stop()
    # What the service recorded, the CLI now shows.
    after = decided("consent", "show", "1002").output
    assert ("share", "posts", "denied", "anyone") in [r[:4] for r in _table(after)]
    assert "signal changes nothing" in after


def test_export_current_choices_in_words_with_recipients(decided: Run) -> None:
    report = json.loads(decided("export", "1001").output)
    current = report["consent"]["current"]
    words = {(c["purpose"], c["scope"], c["recipient"]): c["decision"] for c in current}
    assert words[("train", "posts", None)] == "grant"
    assert words[("share", "posts", "acme")] == "grant"
    assert words[("share", "assistant", "bolt")] == "deny"
    assert ("share", "posts", "bolt") not in words  # never decided: the default applies
    assert {c["decision"] for c in current} <= {"grant", "deny"}
    history = {e["decision"] for e in report["consent"]["history"] if e.get("decision")}
    assert history <= {"grant", "deny"}
    entry = next(c for c in current if c["recipient"] == "acme")
    assert entry["entry"] == 2 and entry["since"].startswith("2024-07-28T08:00:00")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(run: Run, flag: str) -> None:
    assert run(flag).output.strip() == f"consentry {version('consentry')}"
