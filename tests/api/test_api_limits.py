"""Limits: request size, and per-key rate limits in process and shared through Redis by
several servers (each with its own ledger connections, like uvicorn's worker processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Service, make_workspace, new_account, start_service

PROBLEM = "application/problem+json"


@pytest.fixture
def small_limits(tmp_path: Path) -> Iterator[Service]:
    ws = make_workspace(tmp_path / "ws", None)
    svc, stop = start_service(ws, "sqlite", person_rate=3, max_body=1024)
    yield svc
    stop()


def test_bodies_over_the_limit_are_refused(small_limits: Service) -> None:
    headers = small_limits.person(new_account())
    big = {"decision": "grant", "notice_version": "x" * 2000}
    r = small_limits.client.put("/v1/me/consent/train", json=big, headers=headers)
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"decision": "grant", "notice_version": "'
        for _ in range(10):
            yield b"y" * 200
        yield b'"}'

    r = small_limits.client.put(
        "/v1/me/consent/train",
        content=chunks(),
        headers={**headers, "content-type": "application/json"},
    )
    assert r.status_code == 413


def test_rate_limit_answers_429_with_retry_after(small_limits: Service) -> None:
    headers = small_limits.person(new_account())
    codes = [
        small_limits.client.get("/v1/me/consent", headers=headers).status_code for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    r = small_limits.client.get("/v1/me/consent", headers=headers)
    assert r.headers["content-type"] == PROBLEM
    assert 1 <= int(r.headers["retry-after"]) <= 20
    # Another person has a bucket of their own.
    other = small_limits.client.get("/v1/me/consent", headers=small_limits.person(new_account()))
    assert other.status_code == 200


@pytest.mark.redis
def test_rate_limits_hold_across_servers_sharing_redis(tmp_path: Path, redis_url: str) -> None:
    ws = make_workspace(tmp_path / "ws", None)
    first, stop_first = start_service(ws, "sqlite", person_rate=4, redis_url=redis_url)
    second, stop_second = start_service(ws, "sqlite", person_rate=4, redis_url=redis_url)
    try:
        headers = first.person(new_account())
        codes = []
        for i in range(8):
            server = first if i % 2 == 0 else second
            codes.append(server.client.get("/v1/me/consent", headers=headers).status_code)
        # Four allowed in all, whichever server answered: not four each.
        assert codes.count(200) == 4 and codes.count(429) == 4, codes
        with httpx.Client(base_url=second.url) as c:
            r = c.get("/v1/me/consent", headers=headers)
        assert r.status_code == 429 and "retry-after" in r.headers
    finally:
        stop_first()
        stop_second()
