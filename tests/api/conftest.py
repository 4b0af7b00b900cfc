"""A real service for the API tests: uvicorn on a free loopback port, over a real workspace.

``service`` runs on SQLite and on PostgreSQL (one server per backend per test module, to keep
the suite fast); each test makes its own accounts and keys, so tests never see each other's data.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
import uvicorn

from consentry.api import tokens
from consentry.api.app import create_app
from consentry.api.keys import ApiKeys, Role
from consentry.api.settings import ServiceSettings
from consentry.compliance.recipients import Recipients
from consentry.workspace import Workspace

from .serving import start_serve


@dataclass
class Server:
    """A uvicorn server in a thread of the test process."""

    settings: ServiceSettings
    base_url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.settings), log_level="warning", access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]})
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(20)


@dataclass
class Service:
    """A running service and what tests need to talk to it."""

    ws: Workspace
    server: Server
    client: httpx.Client
    admin_key: str
    backend: str
    _keys: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.base_url

    def token(self, account: str, *, ttl: int = 600) -> str:
        return tokens.mint(tokens.signing_key(self.ws), account, ttl=ttl)

    def person(self, account: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(account)}"}

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def recipient(self, name: str) -> str:
        """``name``, registered as a recipient (once)."""
        with self.ws.ledger() as ledger:
            if Recipients(ledger).find(name) is None:
                Recipients(ledger).add(name)
        return name

    def licensee_key(self, recipient: str) -> str:
        self.recipient(recipient)
        with self.ws.ledger() as ledger:
            return ApiKeys(ledger).create(Role.LICENSEE, recipient=recipient).secret


def new_account() -> str:
    return str(secrets.randbelow(10**12))


def make_workspace(root: Path, db_url: str | None) -> Workspace:
    return Workspace.init(root, db_url=db_url)


def start_service(
    ws: Workspace, backend: str, **overrides: object
) -> tuple[Service, Callable[[], None]]:
    settings = replace(ServiceSettings(workspace=ws, pool_size=2), **overrides)  # type: ignore[arg-type]
    server = Server(settings).start()
    with ws.ledger() as ledger:
        admin = ApiKeys(ledger).create(Role.ADMIN, label="tests").secret
    client = httpx.Client(base_url=server.base_url, timeout=30)
    service = Service(ws, server, client, admin, backend)

    def stop() -> None:
        client.close()
        server.stop()

    return service, stop


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("svc") / "ws"
    db_url = None
    if request.param == "postgres":
        db_url = request.getfixturevalue("postgres_schema_factory")()
    ws = make_workspace(root, db_url)
    svc, stop = start_service(ws, request.param)
    yield svc
    stop()


def run_serve(
    ws: Workspace, log: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``consentry serve ARGS…`` over ``ws`` as operators run it (a process of its own, output
    to ``log``), once its ``/healthz`` answers; the process and its base URL."""
    environ = {**os.environ, "CONSENTRY_WORKSPACE": str(ws.root), **(env or {})}
    environ.pop("CONSENTRY_DB", None)
    return start_serve(*args, env=environ, log=log)
