"""``ContentUsageMiddleware``: an ASGI middleware a platform puts in front of its public pages,
so that every page of an account answers with that account's choice in its headers
(``Content-Usage``, ``tdm-reservation``).

    from consentry.signals.middleware import ContentUsageMiddleware, WorkspaceSignals

    app = ContentUsageMiddleware(platform_app, WorkspaceSignals(".consentry"))

A request path is mapped to an account by the workspace's page patterns (``[signals]``); a
page of no account Consentry knows gets the opt-in default. The table of choices is read from
the ledger at start and again when it is older than ``refresh_s``, in a worker thread, so that
a withdrawal reaches the headers within that time; until the first read completes, page
requests wait for it (a page never goes out without its signals).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread
import pyarrow as pa
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consentry.content.hash_index import HashIndex
from consentry.content.store import ContentStore
from consentry.signals.config import SignalsConfig, load_signals_config
from consentry.signals.published import Published, published
from consentry.signals.registry import choices_by_combo, headers
from consentry.workspace import Workspace


class SignalTable:
    """Published signals looked up by an account's URL part."""

    def __init__(self, pub: Published) -> None:
        self.pub = pub
        self.index, order = HashIndex.with_order(pub.keys)
        self.combo = pub.combo[order]
        self.headers = [
            [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers(c)]
            for c in choices_by_combo(pub.config.search)
        ]
        self.patterns = [p.regex() for p in pub.config.pages]

    def headers_for(self, path: str) -> list[tuple[bytes, bytes]] | None:
        """The headers of a page at ``path``; None when it is not an account's page."""
        for pattern in self.patterns:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            pos = int(self.index.find(pa.array([match["who"]], pa.string()))[0])
            return self.headers[int(self.combo[pos]) if pos >= 0 else 0]
        return None


class WorkspaceSignals:
    """Loads the signals of a workspace's ledger as of its head (``Source`` for the middleware)."""

    def __init__(self, root: Path | str | None = None) -> None:
        # Opening a workspace makes the process's new files private (umask 077): right for
        # Consentry's commands, not for the platform's server this runs in, whose umask is
        # put back. Nothing here writes into the workspace but SQLite's journal files, which
        # take the ledger file's own mode.
        umask = os.umask(0o077)
        try:
            self.workspace = Workspace.open(root)
        finally:
            os.umask(umask)
        self.config: SignalsConfig = load_signals_config(self.workspace)

    def __call__(self) -> Published:
        ws = self.workspace
        with ws.ledger() as ledger:
            return published(ledger, ws.policy(), self.config, ContentStore(ws.content_dir))


Source = Callable[[], Published]


class ContentUsageMiddleware:
    def __init__(self, app: ASGIApp, source: Source, *, refresh_s: float = 30.0) -> None:
        self.app = app
        self.source = source
        self.refresh_s = refresh_s
        self._table: SignalTable | None = None
        self._loaded_at = 0.0
        self._lock = anyio.Lock()

    async def _current(self) -> SignalTable:
        if self._table is not None and time.monotonic() - self._loaded_at < self.refresh_s:
            return self._table
        async with self._lock:
            stale = self._table is None or time.monotonic() - self._loaded_at >= self.refresh_s
            if stale:
                pub = await anyio.to_thread.run_sync(self.source)
                self._table = await anyio.to_thread.run_sync(SignalTable, pub)
                self._loaded_at = time.monotonic()
        assert self._table is not None
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        table = await self._current()
        extra = table.headers_for(scope["path"])
        if extra is None:
            await self.app(scope, receive, send)
            return

        async def with_signals(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in extra}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, with_signals)
