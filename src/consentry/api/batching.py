"""Requests of one worker that need the same kind of round trip share it.

A worker answers many requests at once; each of the hot path's round trips (a rate-limit
script in Redis, a consent read in PostgreSQL) costs the worker more CPU in the client library
than the server spends on it. A ``Batcher`` keeps at most ``in_flight`` calls going: what is
submitted meanwhile waits for one to finish and goes out together in the next call. When
idle, an item goes out at once, alone; under load, one call serves many requests. No library
of the asyncio ecosystem offers this for arbitrary calls (aiodataloader keys by id only and
batches per loop tick), hence these few lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    def __init__(
        self, call: Callable[[list[Item]], Awaitable[Sequence[Result]]], *, in_flight: int = 1
    ) -> None:
        self._call = call
        self._in_flight = in_flight
        self._running = 0
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references
        self.calls = 0  # calls made, for tests and curiosity

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((item, future))
        if self._running < self._in_flight:
            self._running += 1
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                self.calls += 1
                try:
                    results = await self._call([item for item, _ in batch])
                    if len(results) != len(batch):
                        raise RuntimeError(f"{len(results)} results for {len(batch)} items")
                except Exception as exc:  # every waiting request learns of it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._running -= 1
