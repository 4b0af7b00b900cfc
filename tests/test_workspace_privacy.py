"""A workspace is its owner's only, and a copy of one is a workspace of its own (issue 14,
points 11 and 15): modes after init, an import, a build and an erasure, each run as a new
process would with a common umask; a ``cp -r`` copy written through leaves the original alone."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.conftest import isolate_cli
from typer.testing import CliRunner, Result

from consentry.cli.main import app
from consentry.workspace import Workspace

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """`consentry ARGS…` in ``tmp_path``, each started with the usual umask 022, as a fresh
    process would be (the CLI runs in this process, whose umask it changes)."""
    isolate_cli(tmp_path, monkeypatch)
    runner = CliRunner()
    before = os.umask(0o022)

    def invoke(*args: str, code: int = 0) -> Result:
        os.umask(0o022)
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    yield invoke
    os.umask(before)


def loose(root: Path) -> list[str]:
    """What under ``root`` (itself included) others could read: folders not 0700, files not
    0600."""
    found = []
    for path in [root, *sorted(root.rglob("*"))]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            found.append(f"{path.relative_to(root)} {mode:o}")
    return found


def test_init_import_build_and_erase_keep_the_workspace_private(
    run: Run, tmp_path: Path, demo_platform: Path
) -> None:
    ws = tmp_path / ".consentry"
    run("init")
    assert loose(ws) == []
    assert {"config.toml", "ledger.db", "secret", "policy.toml"} <= {p.name for p in ws.iterdir()}
    run("import", "canonical", str(demo_platform))
    assert loose(ws) == []
    assert any((ws / "content").rglob("*.parquet"))
    run("snapshot", "build", "--purpose", "train", "--out", ".consentry/snapshots/train")
    assert (ws / "deliveries").is_dir() and any((ws / "deliveries").iterdir())
    assert loose(ws) == []
    account = json.loads((demo_platform / "accounts.jsonl").read_text().splitlines()[0])["id"]
    run("erase", account, "--yes")
    assert any((ws / "certificates").iterdir())
    assert loose(ws) == []


def test_sqlite_ledger_files_are_private_while_open(run: Run, tmp_path: Path) -> None:
    run("init")
    os.umask(0o022)
    ws = Workspace.open(tmp_path / ".consentry")
    with ws.ledger() as ledger:
        ledger.head()
        side = [p for p in ws.root.iterdir() if p.name.startswith("ledger.db-")]
        assert side, "expected the WAL files of an open SQLite ledger"
        assert loose(ws.root) == []


def test_a_copied_workspace_writes_its_own_ledger(run: Run, tmp_path: Path) -> None:
    run("init", "-w", "original")
    run("consent", "grant", "1001", "train", "-w", "original")
    config = (tmp_path / "original" / "config.toml").read_text()
    assert 'db = "sqlite:///ledger.db"' in config and str(tmp_path) not in config
    subprocess.run(["cp", "-r", "original", "copy"], check=True)
    original_head = run("ledger", "head", "-w", "original").output
    run("consent", "deny", "1001", "train", "-w", "copy")
    run("consent", "deny", "1002", "train", "-w", "copy")
    assert run("ledger", "head", "-w", "original").output == original_head
    assert run("ledger", "head", "-w", "copy").output.startswith("3:")
    # Relative to the workspace, not to where the command runs.
    os.chdir(tmp_path / "original")
    assert run("ledger", "head", "-w", str(tmp_path / "copy")).output.startswith("3:")


def test_a_copy_of_an_old_workspace_is_refused_with_the_fix(run: Run, tmp_path: Path) -> None:
    """Workspaces made before kept an absolute path: a copy of one would write the original's
    ledger. It is refused, saying how to fix it; the original keeps working."""
    run("init", "-w", "old")
    absolute = f'db = "sqlite:///{(tmp_path / "old" / "ledger.db").resolve()}"'
    config = tmp_path / "old" / "config.toml"
    config.write_text(config.read_text().replace('db = "sqlite:///ledger.db"', absolute))
    run("consent", "grant", "1001", "train", "-w", "old")
    shutil.copytree(tmp_path / "old", tmp_path / "copy")
    out = run("consent", "deny", "1001", "train", "-w", "copy", code=4).output
    assert "looks copied from another workspace" in out
    assert 'db = "sqlite:///ledger.db"' in out and "Traceback" not in out
    assert run("ledger", "head", "-w", "old").output.startswith("1:")
    copied = tmp_path / "copy" / "config.toml"
    copied.write_text(copied.read_text().replace(absolute, 'db = "sqlite:///ledger.db"'))
    run("consent", "deny", "1001", "train", "-w", "copy")
    assert run("ledger", "head", "-w", "copy").output.startswith("2:")
    assert run("ledger", "head", "-w", "old").output.startswith("1:")


def test_a_ledger_kept_elsewhere_on_purpose_still_opens(run: Run, tmp_path: Path) -> None:
    db = tmp_path / "shared" / "ledger.db"
    db.parent.mkdir()
    run("init", "--db", f"sqlite:///{db}")
    assert (
        f'db = "sqlite:///{db.resolve()}"' in (tmp_path / ".consentry" / "config.toml").read_text()
    )
    run("consent", "grant", "1001", "train")
    assert db.exists() and not (tmp_path / ".consentry" / "ledger.db").exists()
