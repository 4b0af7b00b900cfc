"""A real ``consentry serve`` over the compliance tests' small platform (every record known),
on SQLite and on PostgreSQL, and a licensee key of its recipient ``acme``."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.api.serving import start_serve
from tests.compliance.conftest import Run, run  # noqa: F401 (the fixture, re-exported)

from consentry.api.keys import ApiKeys, Role
from consentry.workspace import Workspace


@dataclass
class Platform:
    run: Run
    root: Path
    url: str
    key: str

    def ws(self) -> Workspace:
        return Workspace.open(self.root / "ws")

    def licensee(self, recipient: str) -> str:
        with self.ws().ledger() as ledger:
            return ApiKeys(ledger).create(Role.LICENSEE, recipient=recipient).secret


@pytest.fixture
def platform(run: Run, tmp_path: Path) -> Iterator[Platform]:  # noqa: F811
    # Generous: under a loaded machine (other suites, builds) the server's imports alone took
    # over a minute once; the wait is on /healthz, so a quick start costs nothing more.
    proc, url = start_serve(env=dict(os.environ), log=tmp_path / "serve.log", timeout=240)
    with Workspace.open(tmp_path / "ws").ledger() as ledger:
        key = ApiKeys(ledger).create(Role.LICENSEE, recipient="acme").secret
    try:
        yield Platform(run, tmp_path, url, key)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
