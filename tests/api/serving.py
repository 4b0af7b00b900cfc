"""``consentry serve`` as operators run it, in a child process, for the tests that need the real
command (its banner, its workers, its logs)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(
    *args: str, env: Mapping[str, str], log: Path, timeout: float = 60.0
) -> tuple[subprocess.Popen[bytes], str]:
    """`consentry serve --port P ARGS…`, its output in ``log``, once it answers ``/healthz``:
    the process and its base URL. A server that does not start within ``timeout`` seconds (a
    loaded machine imports slowly: callers may give more) is killed and its log shown."""
    port = free_port()
    command = [sys.executable, "-m", "consentry.cli.main", "serve", "--port", str(port), *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        exited = proc.poll()
        if exited is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            why = (
                f"exited with {exited}"
                if exited is not None
                else f"did not answer {base}/healthz within {timeout:.0f} s"
            )
            raise AssertionError(f"consentry serve {why}:\n{log.read_text()}")
        time.sleep(0.2)


@contextmanager
def serve_process(*args: str, env: Mapping[str, str], log: Path) -> Iterator[str]:
    """``start_serve`` as a context: yields the base URL, and stops the server (SIGINT, as an
    operator would) afterwards."""
    proc, base = start_serve(*args, env=env, log=log)
    try:
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
