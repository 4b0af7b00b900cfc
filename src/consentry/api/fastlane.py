"""People's consent calls answered in front of the framework's stack.

``GET /v1/me/consent`` and ``PUT /v1/me/consent/{purpose}`` are most of a platform's traffic
(every screen of every app that shows or changes a choice), and FastAPI's middleware, routing
and dependency layers cost about a fifth more CPU than their own work. Here the same functions
answer them (``people.consent_response``, ``people.change_response``), their errors become the
same problem documents (``problems.answer``) and the access log wraps both lanes. Every other
request, these routes' OpenAPI entries included, goes through FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from consentry.api import problems

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Lane:
    method: str
    path: str
    endpoint: Endpoint
    #: The name of a last path segment taken as a parameter (``path`` then ends with "/"), and
    #: its longest accepted length (longer ones go to FastAPI, whose validation answers).
    param: str | None = None
    param_max: int = 0


class FastLane:
    def __init__(self, app: FastAPI, lanes: list[Lane]) -> None:
        self.app = app
        self.lanes = lanes

    def _lane(self, scope: Scope) -> tuple[Lane, dict[str, str]] | None:
        if scope["type"] != "http" or scope.get("root_path"):
            return None
        path, method = scope["path"], scope["method"]
        for lane in self.lanes:
            if method != lane.method:
                continue
            if lane.param is None:
                if path == lane.path:
                    return lane, {}
            elif path.startswith(lane.path):
                value = path[len(lane.path) :]
                # Anything the route's own validation would refuse goes the long way, and gets
                # FastAPI's answer.
                if 0 < len(value) <= lane.param_max and "/" not in value:
                    return lane, {lane.param: value}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._lane(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        lane, params = found
        scope["app"] = self.app  # what ``service_state`` reads, as Starlette would set it
        scope["path_params"] = params
        request = Request(scope, receive)
        try:
            response = await lane.endpoint(request)
        except Exception as exc:  # every error is a problem document, as in the other lane
            response = problems.answer(request, exc)
        await response(scope, receive, send)
