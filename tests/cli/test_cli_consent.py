"""The issue-2 commands end to end: init, consent grant/deny/show/history, ledger head/verify."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer.main

from consentry.cli.main import app
from consentry.model import AccountChange
from consentry.workspace import Workspace

from .conftest import Run


def tamper(db: Path, sql: str) -> None:
    """Edit the database behind the ledger's back, through the ledger's own SQLite driver (a
    second copy of SQLite in the process must not open the same file)."""
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    with adbc_sqlite.connect(str(db), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql)


def _rows(table: str) -> set[tuple[str, ...]]:
    """(purpose, scope, decision) of each row of `consent show`'s table."""
    return {
        tuple(cell.strip() for cell in line.split("│")[1:4])
        for line in table.splitlines()
        if line.startswith("│")
    }


def _head(run: Run) -> str:
    return run("ledger", "head").output.strip()


def test_init_creates_a_workspace(run: Run, tmp_path: Path) -> None:
    out = run("init").output
    ws = tmp_path / ".consentry"
    assert "Created workspace" in out
    assert (ws / "config.toml").is_file() and (ws / "policy.toml").is_file()
    assert stat.S_IMODE((ws / "secret").stat().st_mode) == 0o600
    assert (ws / "ledger.db").is_file()
    assert run("init", code=4).output.count("already exists") == 1


def test_workspace_option_and_env(run: Run, tmp_path: Path) -> None:
    run("init", "--workspace", "elsewhere")
    assert (tmp_path / "elsewhere" / "config.toml").exists()
    run("consent", "grant", "1", "train", "-w", "elsewhere")
    out = run("ledger", "head", env={"CONSENTRY_WORKSPACE": "elsewhere"}).output
    assert out.startswith("1:")


def test_no_workspace_is_a_clear_error(run: Run) -> None:
    out = run("ledger", "head", code=4).output
    assert "no workspace at .consentry" in out and "consentry init" in out


def test_database_url_from_env(run: Run, tmp_path: Path) -> None:
    db = tmp_path / "custom.db"
    run("init", env={"CONSENTRY_DB": f"sqlite:///{db}"})
    run("consent", "grant", "1", "train", env={"CONSENTRY_DB": f"sqlite:///{db}"})
    assert db.exists()
    assert not (tmp_path / ".consentry" / "ledger.db").exists()
    assert Workspace.open(tmp_path / ".consentry").db_url == f"sqlite:///{db}"


def test_secret_from_env_is_not_written(run: Run, tmp_path: Path) -> None:
    run("init", env={"CONSENTRY_SECRET": "ab" * 32})
    assert not (tmp_path / ".consentry" / "secret").exists()


def test_grant_deny_show_history(run: Run) -> None:
    run("init")
    out = run(
        "consent",
        "grant",
        "1001",
        "train",
        "--at",
        "2024-07-27T08:00:00Z",
        "--source",
        "web",
        "--notice",
        "2024-07",
    ).output
    assert "Recorded grant of train for account 1001 at entry 1" in out
    between = datetime.now(UTC).isoformat()
    run("consent", "deny", "1001", "train", "--scope", "assistant", "--at", "2024-08-01T08:00:00Z")
    run("recipient", "add", "acme")
    run("consent", "grant", "1001", "share", "--recipient", "acme", "--at", "2024-08-02T08:00:00Z")
    show = run("consent", "show", "1001").output
    rows = {
        tuple(c.strip() for c in line.split("│")[1:4]) for line in show.splitlines() if "│" in line
    }
    assert ("train", "posts", "granted") in rows
    assert ("train", "assistant", "denied") in rows
    assert ("fine_tune", "posts", "denied (opt-in default)") in rows
    # A share decision naming a recipient is not a general share consent.
    assert ("share", "posts", "denied (opt-in default)") in rows
    with_acme = run("consent", "show", "1001", "--recipient", "acme").output
    assert any("share" in ln and "grant" in ln for ln in with_acme.splitlines())
    # As of entry 1, or of a time before the deny was recorded, assistant was still granted…
    for as_of in ("1", between):
        early = _rows(run("consent", "show", "1001", "--as-of", as_of).output)
        assert ("train", "assistant", "granted") in early
    # …and as of a time before anything was recorded, nothing was decided.
    assert ("train", "posts", "denied (opt-in default)") in _rows(
        run("consent", "show", "1001", "--as-of", "2024-07-30T00:00:00Z").output
    )
    history = run("consent", "history", "1001").output
    assert "grant train via web, notice 2024-07" in history
    assert "deny train (assistant)" in history
    assert "share" in history and "acme" in history


def test_history_of_unknown_account(run: Run) -> None:
    run("init")
    assert "No ledger entries for account 42" in run("consent", "history", "42").output


def test_bad_inputs_are_clear_errors(run: Run) -> None:
    run("init")
    assert "unknown purpose 'nope'" in run("consent", "grant", "1", "nope", code=2).output
    assert (
        "needs a UTC offset"
        in run("consent", "grant", "1", "train", "--at", "2024-07-27", code=2).output
    )
    assert (
        "not an RFC 3339 time"
        in run("consent", "grant", "1", "train", "--at", "yesterday", code=2).output
    )
    assert (
        "in the future"
        in run("consent", "grant", "1", "train", "--at", "2999-01-01T00:00:00Z", code=2).output
    )
    assert (
        "only applies to the share purpose"
        in run("consent", "grant", "1", "train", "--recipient", "acme", code=2).output
    )
    assert "no entry 9" in run("consent", "show", "1", "--as-of", "9", code=2).output
    assert (
        "sequence number or an RFC 3339 time"
        in run("consent", "show", "1", "--as-of", "last week", code=2).output
    )
    assert "not a ledger position" in run("ledger", "verify", "--against", "9:abc", code=2).output
    assert run("consent", "grant", "1", "train", "--scope", "photos", code=2).exit_code == 2
    # Nothing was recorded by any of the refused calls.
    assert _head(run).startswith("0:")


def test_verify_against_published_head(run: Run) -> None:
    run("init")
    for i in range(5):
        run("consent", "grant", str(i), "train")
    published = _head(run)
    run("consent", "deny", "3", "train")
    out = run("ledger", "verify", "--against", published).output
    assert "6 entries verify" in out and "history up to published head 5 is intact" in out


def test_verify_catches_tampering(run: Run, tmp_path: Path) -> None:
    run("init")
    for i in range(4):
        run("consent", "grant", str(i), "train")
    published = _head(run)
    db = tmp_path / ".consentry" / "ledger.db"
    tamper(db, "UPDATE ledger_entries SET decision = 'deny' WHERE seq = 3")
    out = run("ledger", "verify", code=6).output
    assert "entry 3 was altered" in out
    tamper(db, "UPDATE ledger_entries SET decision = 'grant' WHERE seq = 3")
    tamper(db, "DELETE FROM ledger_entries WHERE seq = 4")
    run("ledger", "verify")  # a truncated chain is self-consistent…
    out = run("ledger", "verify", "--against", published, code=6).output
    assert "entries were removed" in out  # …but not against the published head


def test_every_command_is_documented_with_an_example() -> None:
    root: Any = typer.main.get_command(app)

    def walk(group: Any, prefix: str) -> list[tuple[str, Any]]:
        found: list[tuple[str, Any]] = []
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                assert cmd.help, f"{prefix}{name} has no help"
                found += walk(cmd, f"{prefix}{name} ")
            else:
                found.append((f"{prefix}{name}", cmd))
        return found

    commands = walk(root, "")
    assert len(commands) >= 8
    for name, cmd in commands:
        assert cmd.help and "Example" in cmd.help, f"`consentry {name}` has no example in --help"


def test_secret_never_printed(run: Run, tmp_path: Path) -> None:
    outputs = [run("init").output]
    secret = (tmp_path / ".consentry" / "secret").read_text().strip()
    outputs += [
        run("consent", "grant", "1", "train").output,
        run("consent", "show", "1").output,
        run("consent", "history", "1").output,
        run("ledger", "head").output,
        run("ledger", "verify").output,
    ]
    assert all(secret not in out for out in outputs)


def _import_account(tmp_path: Path, account: str) -> None:
    """The account as an import would bring it: an account-state entry in the ledger."""
    with Workspace.open(tmp_path / ".consentry").ledger() as ledger:
        ledger.append([AccountChange(account, datetime(2024, 1, 1, tzinfo=UTC), {"country": "FR"})])


def test_a_decision_for_an_account_never_seen_is_recorded_with_a_warning(
    run: Run, tmp_path: Path
) -> None:
    run("init")
    unknown = run("consent", "grant", "1001", "train")
    assert "the ledger has no account 1001 yet" in unknown.output
    assert "Recorded grant of train for account 1001" in unknown.output
    _import_account(tmp_path, "1002")
    known = run("consent", "grant", "1002", "train")
    assert "Recorded grant" in known.output and "warning" not in known.output


def test_an_erased_account_records_no_decision(run: Run, tmp_path: Path) -> None:
    run("init")
    _import_account(tmp_path, "1001")
    run("consent", "grant", "1001", "train")
    run("erase", "1001", "--yes")
    head = _head(run)
    for verb in ("grant", "deny"):
        refused = run("consent", verb, "1001", "train", code=2)
        assert "account '1001' was erased" in refused.output
        assert "Traceback" not in refused.output
    assert _head(run) == head  # nothing appended


def test_a_share_decision_needs_a_registered_recipient(run: Run) -> None:
    run("init")
    refused = run("consent", "grant", "1001", "share", "--recipient", "acme", code=2)
    assert "unknown recipient 'acme'" in refused.output
    assert "No ledger entries" in run("consent", "history", "1001").output
    run("recipient", "add", "acme")
    assert "for acme" in run("consent", "grant", "1001", "share", "--recipient", "acme").output
