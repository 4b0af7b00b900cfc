"""A few ledger connections per worker process, lent to one request thread at a time.

A ``LedgerStore`` holds one connection and serialises the threads that share it; a small pool
lets a worker's request threads query in parallel. Each worker process opens its own (a
connection never crosses a fork).
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager

from consentry.ledger import LedgerStore, open_ledger


class LedgerPool:
    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._free: queue.LifoQueue[LedgerStore] = queue.LifoQueue()
        self._all: list[LedgerStore] = []
        for _ in range(size):
            store = open_ledger(url, create=True)
            self._all.append(store)
            self._free.put(store)

    @contextmanager
    def ledger(self) -> Iterator[LedgerStore]:
        store = self._free.get()
        try:
            yield store
        finally:
            self._free.put(store)

    def close(self) -> None:
        for store in self._all:
            store.close()
