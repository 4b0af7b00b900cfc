"""The Redis rate limiter batches concurrent hits into one script call without changing a
count: a burst of N per bucket is N allowed, however the hits were grouped."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from consentry.api.ratelimit import LocalRateLimiter, RedisRateLimiter


@pytest.mark.redis
def test_concurrent_hits_share_calls_and_keep_exact_counts(redis_url: str) -> None:
    async def scenario() -> tuple[list[float | None], list[float | None], int]:
        limiter = RedisRateLimiter(redis_url, namespace=secrets.token_hex(6))
        try:
            one = await asyncio.gather(*(limiter.hit("person:a", 10) for _ in range(25)))
            mixed = await asyncio.gather(*(limiter.hit(f"person:{i % 5}", 1000) for i in range(50)))
            return one, mixed, limiter.calls
        finally:
            await limiter.close()

    one, mixed, calls = asyncio.run(scenario())
    assert sum(w is None for w in one) == 10  # the burst, and not one more
    assert all(w is not None and 0 < w <= 60 for w in one[10:])
    assert all(w is None for w in mixed)
    assert calls <= 4  # each burst went out in a call or two, not a call a hit


@pytest.mark.redis
def test_a_lost_redis_fails_every_waiting_hit(redis_url: str) -> None:
    async def scenario() -> list[BaseException | float | None]:
        limiter = RedisRateLimiter("redis://127.0.0.1:1/0")
        try:
            return await asyncio.gather(
                *(limiter.hit("k", 10) for _ in range(3)), return_exceptions=True
            )
        finally:
            await limiter.close()

    results = asyncio.run(scenario())
    assert all(isinstance(r, Exception) for r in results)


def test_the_local_limiter_counts_the_same_way() -> None:
    async def scenario() -> list[float | None]:
        limiter = LocalRateLimiter()
        return [await limiter.hit("person:a", 10) for _ in range(12)]

    waits = asyncio.run(scenario())
    assert waits[:10] == [None] * 10 and all(w is not None for w in waits[10:])
