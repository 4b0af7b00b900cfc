"""Per-principal request rates: GCRA (a leaky bucket kept as one timestamp per key).

A rate of N per minute lets a client send N requests at once, then one every 60/N seconds. Its
state is a single number, the "theoretical arrival time", so that the Redis version is one
atomic script call per request, on Redis's own clock: every worker of every process agrees.
Without Redis the same algorithm runs in the process (limits then hold per worker only).
"""

from __future__ import annotations

import threading
import time
from typing import Final, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from consentry.api.batching import Batcher
from consentry.api.outages import Outage

#: KEYS[i] a bucket; ARGV[2i-1] its emission interval (µs), ARGV[2i] its burst (requests).
#: Returns, per key in order, 0 when allowed, else the µs to wait. Hits on one bucket in one
#: call are counted in order, as if they had come one by one.
_GCRA: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allowed_at = new_tat - burst * interval
  if allowed_at > now then
    out[i] = allowed_at - now
  else
    redis.call('SET', key, new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
    out[i] = 0
  end
end
return out
"""
KEY_PREFIX: Final = "consentry:rate:"
#: Seconds to wait for Redis to connect or answer before the request is answered 503: on
#: loopback or a LAN it answers in well under a millisecond.
REDIS_TIMEOUT_S: Final = 1.0


class RateLimiter(Protocol):
    async def hit(self, key: str, per_minute: int) -> float | None:
        """Count one request for ``key``; None when allowed, else seconds until it would be."""

    async def check(self) -> bool | None:
        """Whether the limiter's store answers (None: there is none, limits are in memory)."""

    async def close(self) -> None: ...


def _interval_us(per_minute: int) -> int:
    return max(1, 60_000_000 // per_minute)


class LocalRateLimiter:
    def __init__(self) -> None:
        self._tat: dict[str, int] = {}
        self._lock = threading.Lock()

    async def hit(self, key: str, per_minute: int) -> float | None:
        now = time.monotonic_ns() // 1000
        interval = _interval_us(per_minute)
        with self._lock:
            tat = max(self._tat.get(key, now), now)
            new_tat = tat + interval
            allowed_at = new_tat - per_minute * interval
            if allowed_at > now:
                return (allowed_at - now) / 1e6
            self._tat[key] = new_tat
            if len(self._tat) > 100_000:  # forget buckets that are full again
                self._tat = {k: v for k, v in self._tat.items() if v > now}
        return None

    async def check(self) -> bool | None:
        return None

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    """``namespace`` keeps the buckets of workspaces that share one Redis apart. Concurrent
    hits of a worker share script calls (``Batcher``): the script counts them in order. Redis
    unreachable, a hit raises the 503 problem of ``Outage``."""

    def __init__(self, url: str, namespace: str = "") -> None:
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
        )
        self.outage = Outage("Redis (rate limits)")
        self._script = self._redis.register_script(_GCRA)
        self._prefix = f"{KEY_PREFIX}{namespace}:"
        self._batcher: Batcher[tuple[str, int], int] = Batcher(self._call)

    @property
    def calls(self) -> int:
        return self._batcher.calls

    async def hit(self, key: str, per_minute: int) -> float | None:
        try:
            wait = await self._batcher.submit((self._prefix + key, per_minute))
        except RedisError as exc:
            raise self.outage.failed(exc) from None
        self.outage.succeeded()
        return None if wait <= 0 else wait / 1e6

    async def _call(self, hits: list[tuple[str, int]]) -> list[int]:
        args: list[int] = []
        for _, per_minute in hits:
            args += (_interval_us(per_minute), per_minute)
        waits = await self._script(keys=[key for key, _ in hits], args=args)
        return [int(w) for w in waits]

    async def check(self) -> bool:
        try:
            await self._redis.ping()
        except RedisError as exc:
            self.outage.failed(exc)
            return False
        self.outage.succeeded()
        return True

    async def close(self) -> None:
        await self._redis.aclose()


def make_limiter(redis_url: str | None, namespace: str = "") -> RateLimiter:
    return RedisRateLimiter(redis_url, namespace) if redis_url else LocalRateLimiter()
