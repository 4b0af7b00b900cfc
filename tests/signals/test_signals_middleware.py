"""``ContentUsageMiddleware`` in front of a platform's pages, on a real uvicorn server on
loopback: an account's pages carry its choice, other pages nothing, a withdrawal shows."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from consentry.model import Decision
from consentry.signals.middleware import ContentUsageMiddleware, WorkspaceSignals
from consentry.workspace import Workspace

from .support import add_account, decide, parse_usage


async def platform(scope: Scope, receive: Receive, send: Send) -> None:
    """The platform's own pages; one of them sets a stale Content-Usage of its own."""
    headers = [(b"content-type", b"text/html")]
    if scope["path"].endswith("/stale"):
        headers.append((b"content-usage", b"train-ai=y"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"<p>a page</p>"})


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def usage(response: httpx.Response) -> dict[str, str]:
    return parse_usage(response.headers["content-usage"])


def test_pages_carry_their_accounts_choice(ws: Workspace) -> None:
    with ws.ledger() as ledger:
        add_account(ledger, "7")
        add_account(ledger, "8")
        decide(ledger, "7", "train", Decision.GRANT)
    app = ContentUsageMiddleware(platform, WorkspaceSignals(ws.root), refresh_s=0)
    with serving(app) as base, httpx.Client(base_url=base) as client:
        granted = client.get("/u/7/posts/123")
        assert granted.status_code == 200 and granted.text == "<p>a page</p>"
        assert usage(granted) == {"train-ai": "y"}
        assert granted.headers["tdm-reservation"] == "0"
        assert usage(client.get("/u/7")) == {"train-ai": "y"}
        assert usage(client.get("/u/8")) == {"train-ai": "n"}
        # An account Consentry does not know: the opt-in default.
        assert usage(client.get("/u/999/posts/1")) == {"train-ai": "n"}
        # Not an account's page: nothing is added.
        assert "content-usage" not in client.get("/about").headers
        # The platform's own stale value is replaced, not sent beside ours.
        stale = client.get("/u/8/posts/stale")
        assert stale.headers.get_list("content-usage") == ["train-ai=n"]
        with ws.ledger() as ledger:
            decide(ledger, "7", "train", Decision.DENY, step=2)
        withdrawn = client.get("/u/7/posts/123")
        assert usage(withdrawn) == {"train-ai": "n"}
        assert withdrawn.headers["tdm-reservation"] == "1"
