"""The privacy center under `consentry serve` as operators run it: the token of a sign-in link
never reaches the access log."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import make_workspace, new_account, run_serve

from consentry.api import tokens


@pytest.mark.slow
def test_the_token_is_never_logged(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", None)
    log = tmp_path / "serve.log"
    proc, base = run_serve(ws, log)
    try:
        token = tokens.mint(tokens.signing_key(ws), new_account())
        with httpx.Client(base_url=base, follow_redirects=False) as client:
            response = client.get("/privacy", params={"token": token})
            assert response.status_code == 303
            assert token not in response.headers["location"]
            assert client.get("/privacy").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    text = log.read_text()
    assert '"path":"/privacy"' in text  # the access log saw the sign-in
    assert token not in text
    assert token.split(".")[2] not in text  # not even its signature
