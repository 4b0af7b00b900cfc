"""``GET /v1/me/consent`` answered in front of the framework's stack.

It is most of a platform's traffic (every screen of every app that shows a choice asks it), and
FastAPI's middleware, routing and dependency layers cost about a fifth more CPU than its own
work (authentication, one query, the answer). Here the same function answers it
(``people.consent_response``), its errors become the same problem documents
(``problems.answer``) and the access log wraps both lanes. Every other request, this route's
OpenAPI entry included, goes through FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from consentry.api import problems

Endpoint = Callable[[Request], Awaitable[Response]]


class FastLane:
    def __init__(self, app: FastAPI, method: str, path: str, endpoint: Endpoint) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] != self.method
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # what ``service_state`` reads, as Starlette would set it
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except Exception as exc:  # every error is a problem document, as in the other lane
            response = problems.answer(request, exc)
        await response(scope, receive, send)
