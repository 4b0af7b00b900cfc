"""A real service over the demo platform, on SQLite and on PostgreSQL, for the answer tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.conftest import Service, make_workspace, start_service

from consentry.api.keys import ApiKeys, Role
from consentry.platform.canonical import import_canonical


def assistant_key(service: Service) -> dict[str, str]:
    with service.ws.ledger() as ledger:
        secret = ApiKeys(ledger).create(Role.ASSISTANT, label="tests").secret
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def answering(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_platform: Path
) -> Iterator[Service]:
    """The demo platform imported, then served (the index is built at start-up)."""
    root = tmp_path_factory.mktemp("answer") / "ws"
    db_url = None
    if request.param == "postgres":
        db_url = request.getfixturevalue("postgres_schema_factory")()
    ws = make_workspace(root, db_url)
    import_canonical(ws, demo_platform)
    svc, stop = start_service(ws, request.param)
    yield svc
    stop()
