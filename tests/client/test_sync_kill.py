"""``consentry sync`` killed with SIGKILL at many points, during the download and during the
apply step, then run again: the copy ends exactly as an uninterrupted sync leaves it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.compliance.conftest import ACCOUNTS, CONTENT, records_of, write_export

from consentry.client import sync

from .conftest import Platform

pytestmark = pytest.mark.slow
#: Seconds after start at which each run is killed: before, during and after its HTTP calls.
DELAYS = (0.3, 0.6, 0.9, 1.2, 1.5, 2.0)


def _killed_runs(p: Platform, folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
    command = [sys.executable, "-m", "consentry.cli.main", "sync", "--server", p.url,
               "--key", p.key, "--dir", str(folder)]  # fmt: skip
    for delay in DELAYS:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _state(folder: Path) -> dict[str, set[str]]:
    return {
        d.name: records_of(d)
        for d in folder.iterdir()
        if d.is_dir() and d.name != ".consentry-sync"
    }


def test_kill_during_download_and_apply(platform: Platform, tmp_path: Path) -> None:
    p = platform
    p.run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    _killed_runs(p, killed)
    assert _state(killed) == {d: records_of(tmp_path / "s1") for d in _state(killed)}
    assert len(_state(killed)) == 1
    # Now the deletions, killed while applying them; the clean copy is synced once.
    sync(p.url, p.licensee("acme"), clean)
    p.run("consent", "deny", "a2", "train")
    deleted = [
        dict(c, deleted_at="2024-06-01T00:00:00Z") if c["id"] == "s1" else c for c in CONTENT
    ]
    p.run("import", "canonical", str(write_export(tmp_path / "e2", deleted, ACCOUNTS)))
    _killed_runs(p, killed)
    sync(p.url, p.licensee("acme"), clean)
    assert _state(killed) == _state(clean)
    journal = (killed / ".consentry-sync/journal.jsonl").read_text().splitlines()
    assert len(journal) == len(set(journal))
