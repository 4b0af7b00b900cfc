"""Account ids given on the command line obey the importers' id rule: a NUL, another control
character or an id past the length bound is a usage error (exit 2) naming the problem, on SQLite
and on PostgreSQL alike, and nothing reaches the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentry.ids import MAX_ID_CHARS

from .conftest import Run

BAD_IDS = [
    pytest.param("a\x00b", "control character", id="nul"),
    pytest.param("a\nb", "control character", id="newline"),
    pytest.param("x" * (MAX_ID_CHARS + 1), f"longer than {MAX_ID_CHARS}", id="too-long"),
    pytest.param("", "empty", id="empty"),
]
COMMANDS = [
    pytest.param(("consent", "grant", "{}", "train"), id="grant"),
    pytest.param(("consent", "deny", "{}", "train"), id="deny"),
    pytest.param(("consent", "show", "{}"), id="show"),
    pytest.param(("consent", "history", "{}"), id="history"),
    pytest.param(("erase", "{}", "--yes"), id="erase"),
    pytest.param(("whereis", "{}"), id="whereis"),
    pytest.param(("export", "{}"), id="export"),
    pytest.param(("token", "{}"), id="token"),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def workspace(request: pytest.FixtureRequest, run: Run) -> Run:
    if request.param == "postgres":
        run("init", "--db", str(request.getfixturevalue("postgres_url")))
    else:
        run("init")
    return run


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("account", "problem"), BAD_IDS)
def test_a_bad_account_id_is_refused_before_the_ledger(
    workspace: Run, command: tuple[str, ...], account: str, problem: str, tmp_path: Path
) -> None:
    head = workspace("ledger", "head").output
    result = workspace(*(account if a == "{}" else a for a in command), code=2)
    said = " ".join(result.output.replace("│", " ").split())  # Rich boxes and wraps the error
    assert problem in said
    assert "Traceback" not in result.output
    assert workspace("ledger", "head").output == head
