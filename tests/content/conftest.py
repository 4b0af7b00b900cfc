"""A workspace per test, and a quick way to import canonical records into it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consentry.platform.ingest import Ingest
from consentry.platform.report import ImportReport
from consentry.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.init(tmp_path / "ws")


Load = Callable[..., ImportReport]


@pytest.fixture
def load(workspace: Workspace) -> Load:
    """``load(accounts=[…], content=[…], interactions=[…], decisions=[…], deletions=[…])``:
    one import through the per-record path."""

    def run(**kinds: list[Any]) -> ImportReport:
        with Ingest(workspace, source="test") as ingest:
            for n, rec in enumerate(kinds.get("accounts", []), 1):
                ingest.account(rec, file="accounts", line=n)
            for n, rec in enumerate(kinds.get("content", []), 1):
                ingest.content(rec, file="content", line=n)
            for n, rec in enumerate(kinds.get("interactions", []), 1):
                ingest.interaction(rec, file="interactions", line=n)
            for n, rec in enumerate(kinds.get("decisions", []), 1):
                ingest.decision(rec, file="consent", line=n)
            for n, (cid, at) in enumerate(kinds.get("deletions", []), 1):
                ingest.deleted(cid, at, file="deletions", line=n)
            return ingest.finish()

    return run
