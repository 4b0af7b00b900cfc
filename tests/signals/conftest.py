from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.conftest import run  # noqa: F401 (the CLI runner fixture, for the CLI tests here)

from consentry.workspace import Workspace

from .support import make_workspace

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
BY_ID = 'profile = "/u/{account}"\npost = "/u/{account}/posts/{id}"\n'


@pytest.fixture(params=BACKENDS)
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose pages are named by account id, on each backend."""
    db_url = None
    if request.param == "postgres":
        db_url = str(request.getfixturevalue("postgres_url"))
    yield make_workspace(tmp_path / "ws", db_url, BY_ID)
