"""``consentry serve --workers 2`` as operators run it: each worker follows the ledger on its
own, and a withdrawal is seen by every one of them within a second."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import make_workspace, run_serve

from consentry.api import tokens
from consentry.api.keys import ApiKeys, Role
from consentry.content.store import ContentStore
from consentry.platform.canonical import import_canonical

ACCOUNT = "1100000000000000000"  # the demo platform's first account: adult, public posts


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_every_worker_sees_a_withdrawal_within_a_second(
    backend: str, tmp_path: Path, demo_platform: Path, request: pytest.FixtureRequest
) -> None:
    db_url = request.getfixturevalue("postgres_schema_factory")() if backend == "postgres" else None
    ws = make_workspace(tmp_path / "ws", db_url)
    import_canonical(ws, demo_platform)
    with ws.ledger() as ledger:
        key = ApiKeys(ledger).create(Role.ASSISTANT).secret
    store = ContentStore(ws.content_dir)
    posts = [
        r["content_id"]
        for b in store.scan(["content_id", "author_id", "kind", "visibility", "deleted_at"])
        for r in b.to_pylist()
        if r["author_id"] == ACCOUNT
        and r["kind"] == "post"
        and r["visibility"] == "public"
        and r["deleted_at"] is None
    ]
    assert posts
    env = {"CONSENTRY_PERSON_RATE": "100000"}  # the workspace names its database itself
    proc, base = run_serve(ws, tmp_path / "serve.log", "--workers", "2", env=env)
    person = {"Authorization": f"Bearer {tokens.mint(tokens.signing_key(ws), ACCOUNT)}"}
    assistant = {"Authorization": f"Bearer {key}", "Connection": "close"}

    def verdicts() -> set[str]:
        # A fresh connection each time: both workers answer in turn.
        r = httpx.post(f"{base}/v1/answer/eligible", json={"content_ids": posts}, headers=assistant)
        assert r.status_code == 200, r.text
        return set(r.json()["verdicts"].values())

    try:
        r = httpx.put(f"{base}/v1/me/consent/answer", json={"decision": "grant"}, headers=person)
        assert r.status_code == 200, r.text
        time.sleep(1.0)
        assert all(verdicts() == {"eligible"} for _ in range(10))
        r = httpx.put(f"{base}/v1/me/consent/answer", json={"decision": "deny"}, headers=person)
        assert r.status_code == 200, r.text
        time.sleep(1.0)
        seen = [verdicts() for _ in range(20)]
        assert all(v == {"consent_denied"} for v in seen), seen
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    log = (tmp_path / "serve.log").read_text()
    assert log.count("answer index:") >= 2, log  # each worker built its own
