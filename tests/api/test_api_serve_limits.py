"""``consentry serve`` against oversized request heads, as an attacker sends them: a raw socket
streaming a huge header (or target) is answered 431 (414) while it is still sending, and the
worker's peak memory stays near idle; a head within limits is served, on a kept-alive
connection too. Also: each access-log line carries an RFC 3339 UTC timestamp."""

from __future__ import annotations

import json
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from consentry.api.protocol import MAX_HEAD, MAX_LINE
from consentry.workspace import Workspace

from .conftest import run_serve


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_kb(self) -> int:
        """The worker's own peak resident memory (one worker: the serving process itself)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("serve-limits")
    ws = Workspace.init(base / "ws")
    log = base / "serve.log"
    proc, url = run_serve(ws, log)
    served = Served(proc, int(url.rsplit(":", 1)[1]), log)
    yield served
    proc.send_signal(signal.SIGINT)
    proc.wait(30)


def _flood(port: int, start: bytes, filler: int, total: int) -> bytes:
    """Send ``start`` then ``total`` bytes of ``filler`` (a byte value), as fast as the server
    takes them, stopping as soon as it answers; the answer's bytes."""
    chunk = bytes([filler]) * (1 << 20)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(start)
        sent = 0
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # answered: a real client stops sending and reads
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    return answer


def _warm(served: Served) -> int:
    for _ in range(20):
        assert httpx.get(f"{served.base}/healthz").status_code == 200
    return served.peak_rss_kb()


@pytest.mark.slow
def test_a_huge_header_is_431_without_the_worker_holding_it(served: Served) -> None:
    idle = _warm(served)
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
    answer = _flood(served.port, head, ord("a"), 600 << 20)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["status"] == 431 and str(MAX_HEAD) in body["detail"]
    # Many small headers add up the same way.
    many = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-A: b\r\n" * (MAX_HEAD // 8 + 10)
    assert _flood(served.port, many, ord("\r"), 0).startswith(b"HTTP/1.1 431 ")
    assert served.peak_rss_kb() - idle < 50 * 1024, (idle, served.peak_rss_kb())
    assert served.proc.poll() is None


@pytest.mark.slow
def test_a_huge_target_is_414(served: Served) -> None:
    idle = _warm(served)
    answer = _flood(served.port, b"GET /healthz?", ord("a"), 100 << 20)
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["status"] == 414
    assert served.peak_rss_kb() - idle < 50 * 1024


@pytest.mark.slow
def test_heads_within_limits_are_served_on_one_connection(served: Served) -> None:
    target = "/healthz?" + "q" * (MAX_LINE - 200)
    big_but_fine = {f"x-h{i}": "v" * 1000 for i in range(MAX_HEAD // 1100)}
    with httpx.Client(base_url=served.base) as client:
        for _ in range(5):  # kept alive: each request's head is counted on its own
            assert client.get(target, headers=big_but_fine).status_code == 200
            assert client.put("/v1/me/consent/train", json={"decision": "grant"}).status_code == 401


@pytest.mark.slow
def test_access_log_lines_carry_an_rfc3339_utc_timestamp(served: Served) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert httpx.get(f"{served.base}/healthz?probe=ts").status_code == 200
    deadline = time.monotonic() + 10
    lines: list[dict[str, object]] = []
    while not lines:
        lines = [
            json.loads(line)
            for line in served.log.read_text().splitlines()
            if line.startswith("{") and '"path":"/healthz"' in line
        ]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ts = str(lines[-1]["ts"])
    assert ts.endswith("Z") and "T" in ts
    when = datetime.fromisoformat(ts)
    assert when.tzinfo is not None and when.utcoffset() == timedelta(0)
    assert before <= when <= datetime.now(UTC) + timedelta(seconds=1)
