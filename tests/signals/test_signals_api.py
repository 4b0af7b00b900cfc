"""``GET /v1/signals/{account}`` on the real service: public, the JSON of every vocabulary and
the ledger position, 404 for an account the ledger does not know."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.conftest import Service, start_service

from consentry.model import Decision

from .conftest import BACKENDS, BY_ID
from .support import add_account, decide, make_workspace, parse_usage


@pytest.fixture(params=BACKENDS)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    db_url = None
    if request.param == "postgres":
        db_url = str(request.getfixturevalue("postgres_url"))
    ws = make_workspace(tmp_path / "ws", db_url, BY_ID)
    svc, stop = start_service(ws, request.param)
    yield svc
    stop()


def test_signals_are_public_and_follow_the_ledger(service: Service) -> None:
    with service.ws.ledger() as ledger:
        add_account(ledger, "42")
        decide(ledger, "42", "train", Decision.GRANT)
        decide(ledger, "42", "answer", Decision.GRANT)
        head = ledger.head()
    got = service.client.get("/v1/signals/42")  # no credentials
    assert got.status_code == 200, got.text
    body = got.json()
    assert parse_usage(body["content_usage"]) == {"train-ai": "y"}
    assert body["content_signal"] == "ai-train=yes, ai-input=yes"
    assert body["tdm_reservation"] == 0
    assert body["position"] == {"seq": head.seq, "hash": head.hash}
    assert got.headers["cache-control"] == "public, max-age=60"
    with service.ws.ledger() as ledger:
        decide(ledger, "42", "train", Decision.DENY, step=2)
    body = service.client.get("/v1/signals/42").json()
    assert body["content_usage"] == "train-ai=n" and body["tdm_reservation"] == 1
    missing = service.client.get("/v1/signals/nobody")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
