"""Redis going away under a running service, and coming back: 503 with Retry-After meanwhile
(a problem document, no traceback), one log line each way, and ``/healthz`` saying so.

The Redis here is the test's own, on a free loopback port, killed mid-test; the shared one is
left alone."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.conftest import skip_or_fail

from .conftest import Service, make_workspace, new_account, start_service
from .serving import free_port

PROBLEM = "application/problem+json"


class OwnRedis:
    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            skip_or_fail("redis-server is not installed")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    if server.proc is not None:
        server.kill()


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


@pytest.mark.redis
@pytest.mark.slow
def test_redis_outage_is_503_logged_once_and_reported_by_healthz(
    tmp_path: Path, own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="consentry")
    ws = make_workspace(tmp_path / "ws", None)
    service: Service
    service, stop = start_service(ws, "sqlite", redis_url=own_redis.url)
    try:
        person = service.person(new_account())
        assert service.client.get("/v1/me/consent", headers=person).status_code == 200
        health = service.client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["dependencies"] == {"ledger": "ok", "redis": "ok"}

        own_redis.kill()
        for _ in range(40):
            for headers in (person, service.admin()):  # people and keys alike
                r = service.client.get("/v1/me/consent", headers=headers)
                assert r.status_code == 503, r.text
                assert r.headers["content-type"] == PROBLEM
                assert int(r.headers["retry-after"]) >= 1
                assert "Traceback" not in r.text
            r = service.client.get("/v1/admin/keys", headers=service.admin())
            assert r.status_code == 503
        health = service.client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert health.json()["dependencies"] == {"ledger": "ok", "redis": "unreachable"}
        assert len(_lines(caplog, "is unreachable")) == 1, _lines(caplog, "unreachable")
        assert not [r for r in caplog.records if r.exc_info]  # no traceback logged

        own_redis.start()  # back, on the same port
        deadline = time.monotonic() + 10
        while service.client.get("/v1/me/consent", headers=person).status_code != 200:
            assert time.monotonic() < deadline, "the service did not reconnect to Redis"
            time.sleep(0.1)
        assert service.client.get("/healthz").status_code == 200
        assert len(_lines(caplog, "is reachable again")) == 1
        assert len(_lines(caplog, "is unreachable")) == 1
    finally:
        stop()
