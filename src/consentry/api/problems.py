"""Every error as an RFC 9457 problem document (``application/problem+json``), never a trace.

Handlers are registered for the service's own ``ProblemError``, Starlette's HTTP errors (unknown
route, wrong method), request validation, Consentry's named errors and, last, anything else,
which answers a bare 500 and leaves the details to the server log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from consentry.db_urls import redact_text
from consentry.errors import (
    ConsentryError,
    GoneError,
    LedgerBackendError,
    LedgerIntegrityError,
    NotFoundError,
    UsageError,
    WorkspaceError,
)

MEDIA_TYPE: Final = "application/problem+json"
log = logging.getLogger("consentry.api")


class ProblemError(Exception):
    """An error answered as a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=MEDIA_TYPE
    )


def _status_of(exc: ConsentryError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, GoneError):
        return 410
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, LedgerBackendError):
        return 503
    if isinstance(exc, LedgerIntegrityError | WorkspaceError):
        return 500
    return 400


def _on_problem(request: Request, exc: ProblemError) -> JSONResponse:
    return problem_response(
        exc.status,
        exc.detail,
        title=exc.title,
        headers=exc.headers,
        extra=exc.extra,
        instance=request.url.path,
    )


def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, detail, headers=exc.headers, instance=request.url.path)


def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"location": [str(p) for p in e.get("loc", ())], "message": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return problem_response(
        422,
        "the request does not match the API's schema",
        extra={"errors": errors},
        instance=request.url.path,
    )


def _on_consentry(request: Request, exc: ConsentryError) -> JSONResponse:
    status = _status_of(exc)
    if status >= 500:
        # The message may name internals (paths, database hosts): it goes to the log only.
        log.error("%s on %s: %s", type(exc).__name__, request.url.path, redact_text(str(exc)))
        return problem_response(status, "the service cannot answer this request now")
    return problem_response(status, str(exc), instance=request.url.path)


def answer(request: Request, exc: Exception) -> JSONResponse:
    """The problem document for any exception a route raised."""
    if isinstance(exc, ProblemError):
        return _on_problem(request, exc)
    if isinstance(exc, StarletteHTTPException):
        return _on_http(request, exc)
    if isinstance(exc, RequestValidationError):
        return _on_validation(request, exc)
    if isinstance(exc, ConsentryError):
        return _on_consentry(request, exc)
    log.error("unexpected %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
    return problem_response(500, "internal error")


def install(app: FastAPI) -> None:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, exc)

    for kind in (
        ProblemError,
        StarletteHTTPException,
        RequestValidationError,
        ConsentryError,
        Exception,
    ):
        app.add_exception_handler(kind, handler)
