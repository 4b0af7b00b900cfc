"""Pure ASGI middleware: request size limits, ids without control characters, and structured
access logs.

The access log is one JSON object per request: when it ended (``ts``, RFC 3339 UTC, to the
millisecond), method, path (never the query string), status, duration, and who asked as a key
id or "person" — never a token, a key or an account id.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consentry.api.problems import problem_response
from consentry.ids import ID_CONTROL_CHARS

access_log = logging.getLogger("consentry.access")


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, whether announced or streamed; ``paths``
    names the few routes that take more (a batch of ids), with their own limit."""

    def __init__(self, app: ASGIApp, limit: int, paths: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope.get("path", ""), self.limit)
        framed = False  # HTTP/1.1: without either header a request has no body to count
        for name, value in scope["headers"]:
            if name == b"content-length":
                framed = True
                try:
                    length = int(value)
                except ValueError:
                    length = limit + 1
                if length > limit:
                    await self._refuse(limit, scope, receive, send)
                    return
            elif name == b"transfer-encoding":
                framed = True
        if not framed and scope.get("http_version", "1.1") != "2":
            await self.app(scope, receive, send)
            return
        seen = 0
        started = refused = False

        async def limited_receive() -> Message:
            # Over the limit: answer 413 here and tell the app the client left (frameworks turn
            # an exception raised from receive() into their own 400).
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not started:
                    refused = True
                    await self._refuse(limit, scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the app's answer to a body it never got whole
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413, f"the request body is larger than the {limit} bytes accepted"
        )
        await response(scope, receive, send)


_CONTROL = re.compile(ID_CONTROL_CHARS)


class PlainRequest:
    """Refuse with 400 a path or query string holding a control character once decoded.

    Every id of the API comes in through them (snapshot, key, job, recipient, plan names): the
    same answer on both backends, where PostgreSQL would refuse a NUL (503, read as an outage)
    and SQLite would store it. Bodies are checked by their models (``api.fields``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string") or b""
            if _CONTROL.search(scope["path"]) or (
                query and _CONTROL.search(urllib.parse.unquote(query.decode("latin-1")))
            ):
                response = problem_response(
                    400, "the request's path or query holds a control character"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            state: dict[str, Any] = scope.get("state") or {}
            access_log.info(
                json.dumps(
                    {
                        "ts": _rfc3339_now(),
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - start) * 1000, 2),
                        "principal": state.get("principal"),
                    },
                    separators=(",", ":"),
                )
            )


def _rfc3339_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
