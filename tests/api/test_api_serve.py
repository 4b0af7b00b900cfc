"""``consentry serve`` as operators run it: a separate process with two uvicorn workers, rate
limits shared through Redis, and access logs that carry no secret."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from consentry.api import tokens
from consentry.api.keys import ApiKeys, Role
from consentry.compliance.recipients import Recipients
from consentry.workspace import Workspace

from .conftest import new_account, run_serve


@pytest.mark.redis
@pytest.mark.slow
def test_two_workers_share_rate_limits_and_log_no_secrets(tmp_path: Path, redis_url: str) -> None:
    ws = Workspace.init(tmp_path / "ws")
    with ws.ledger() as ledger:
        Recipients(ledger).add("acme-ai")
        key = ApiKeys(ledger).create(Role.LICENSEE, recipient="acme-ai").secret
    log = tmp_path / "serve.log"
    env = {"CONSENTRY_PERSON_RATE": "6", "CONSENTRY_LICENSEE_RATE": "1000"}
    proc, base = run_serve(ws, log, "--workers", "2", "--redis", redis_url, env=env)
    try:
        token = tokens.mint(tokens.signing_key(ws), new_account())
        codes = []
        for _ in range(12):
            # A fresh connection each time, so that both workers get requests.
            r = httpx.get(
                f"{base}/v1/me/consent",
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            )
            codes.append(r.status_code)
        assert codes.count(200) == 6 and codes.count(429) == 6, codes
        usage = httpx.get(f"{base}/v1/usage", headers={"Authorization": f"Bearer {key}"})
        assert usage.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    text = log.read_text()
    assert text.count('"path":"/v1/me/consent"') == 12
    pids = {
        line.split("[")[1].split("]")[0]
        for line in text.splitlines()
        if "Started server process" in line
    }
    assert len(pids) == 2, text
    for secret in (
        token,
        key,
        key.split("_", 2)[2],
        tokens.signing_key(ws).hex(),
        ws.secret().hex(),
    ):
        assert secret not in text
