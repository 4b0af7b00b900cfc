"""The operator's console (``/admin``): the report's sections as pages, for holders of an admin
API key, signed in by session like the privacy center.

Sign-in is a form POST of the key (never a URL: keys must not land in logs or histories). The
session cookie (path ``/admin``, signed under a key of its own, so that no privacy-center
session ever passes for one) names the key, and every request checks that key is still a live
admin key of this workspace: a revoked key ends its sessions at once. Licensee keys and people
are refused.

The figures are gathered once per state of the workspace (ledger head, deliveries, compliance
events and acknowledgements, certificates, last verification), and at most once a minute, so
that a page costs a few small queries, not a pass over millions of accounts.
"""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from consentry.api.keys import ApiKeys, Role
from consentry.api.state import ServiceState, service_state
from consentry.errors import UsageError
from consentry.ledger import LedgerStore
from consentry.report import Options, document, gather
from consentry.report.health import VERIFICATION_NAME
from consentry.web import requests, sessions
from consentry.web.config import CenterConfig, load_config
from consentry.web.render import secure
from consentry.web.requests import form_fields, is_https, language, redirect
from consentry.web.sessions import Session
from consentry.workspace import Workspace

PREFIX: Final = "/admin"
SIGN_IN: Final = f"{PREFIX}/signin"
COOKIE: Final = "consentry_admin"
LANG_COOKIE: Final = "consentry_admin_lang"
_PURPOSE: Final = b"consentry admin console session v1"
#: The longest a figure may lag the workspace when nothing visible changed (deadlines move
#: with the clock).
MAX_AGE_S: Final = 60.0
KEY_MAX: Final = 200

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def console_key(workspace_secret: bytes) -> bytes:
    """The key of console sessions: neither the workspace secret nor the privacy center's."""
    return hmac.digest(workspace_secret, _PURPOSE, "sha256")


@dataclass
class Figures:
    """The gathered report and its rendered bodies per language, for one workspace state."""

    stamp: tuple[Any, ...]
    made: float
    data: dict[str, Any]
    bodies: dict[str, str] = field(default_factory=dict)
    ropa: dict[str, str] = field(default_factory=dict)
    json: bytes | None = None


@dataclass
class Console:
    config: CenterConfig
    key: bytes
    lock: threading.Lock = field(default_factory=threading.Lock)
    figures: Figures | None = None


def console(request: Request) -> Console:
    found = getattr(request.app.state, "admin_console", None)
    if found is None:
        ws = service_state(request).settings.workspace
        found = Console(load_config(ws), console_key(ws.secret()))
        request.app.state.admin_console = found
    assert isinstance(found, Console)
    return found


def _lang(request: Request) -> str:
    return language(request, LANG_COOKIE)


def _page(
    template: str, lang: str, config: CenterConfig, status: int = 200, **context: Any
) -> Response:
    html = document.environment(lang).get_template(template).render(lang=lang, **context)
    response = HTMLResponse(html, status_code=status)
    secure(response.headers, config, personal=True)
    return response


@dataclass(frozen=True, slots=True)
class Visit:
    request: Request
    state: ServiceState
    console: Console
    session: Session
    lang: str

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        return _page(
            template,
            self.lang,
            self.console.config,
            status,
            csrf=sessions.csrf_token(self.console.key, self.session),
            signed_in=True,
            here=self.request.url.path,
            **context,
        )


def _live_admin(state: ServiceState, key_id: str) -> bool:
    with state.pool.ledger() as ledger:
        try:
            key = ApiKeys(ledger).get(key_id)
        except UsageError:
            return False
    return key.role is Role.ADMIN and not key.revoked


async def _visit(request: Request) -> Visit | Response:
    found = console(request)
    cookie = request.cookies.get(COOKIE)
    session = sessions.decode(found.key, cookie)
    if session is None:
        return redirect(SIGN_IN + ("?expired=1" if cookie else ""), found.config)
    state = service_state(request)
    if not await run_in_threadpool(_live_admin, state, session.account_id):
        response = redirect(SIGN_IN + "?expired=1", found.config)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response
    bucket = f"key:{session.account_id}"
    request.state.principal = bucket
    visit = Visit(request, state, found, session, _lang(request))
    wait = await state.limiter.hit(bucket, state.settings.admin_rate)
    if wait is not None:
        response = visit.render("admin/error.html", 429, problem="rate")
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    return visit


Page = Callable[[Visit], Awaitable[Response]]


def signed_in(handler: Page) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        visit = await _visit(request)
        if isinstance(visit, Response):
            return visit
        return await handler(visit)

    route.__name__ = handler.__name__
    return route


# ---- the figures ---------------------------------------------------------------------------------


def _stamp(ws: Workspace, ledger: LedgerStore) -> tuple[Any, ...]:
    """What changes when a figure may: cheap to read, unlike the figures themselves."""
    head = ledger.head()
    deliveries = ledger.query(
        "SELECT COUNT(*), MAX(delivery_id), COUNT(published_us) FROM deliveries"
    )[0]
    events = ledger.query("SELECT MAX(event_id) FROM compliance_events")[0]
    acks = ledger.query("SELECT COALESCE(SUM(through_event), 0), COUNT(*) FROM compliance_acks")[0]
    recipients = ledger.query("SELECT COUNT(*), MAX(created_us) FROM recipients")[0]
    certificates = ws.certificates_dir
    erased = len(list(certificates.glob("erasure-*.json"))) if certificates.is_dir() else 0
    verified = ws.root / VERIFICATION_NAME
    verified_at = verified.stat().st_mtime_ns if verified.exists() else 0
    return (head.seq, head.hash, *deliveries, *events, *acks, *recipients, erased, verified_at)


def _figures(visit: Visit) -> Figures:
    held = visit.console
    ws = visit.state.settings.workspace
    with visit.state.pool.ledger() as ledger:
        stamp = _stamp(ws, ledger)
        with held.lock:  # one worker thread gathers; the others wait for its figures
            current = held.figures
            fresh = current is not None and current.stamp == stamp
            if fresh and current is not None and time.monotonic() - current.made < MAX_AGE_S:
                return current
            data = gather(ws, ledger, Options(verify_snapshots=True))
            held.figures = Figures(stamp, time.monotonic(), data)
            return held.figures


def _body(figures: Figures, lang: str, *, ropa: bool = False) -> str:
    cache = figures.ropa if ropa else figures.bodies
    if lang not in cache:
        made = document.ropa_body(figures.data, lang) if ropa else document.body(figures.data, lang)
        cache[lang] = made
    return cache[lang]


# ---- sign-in, sign-out, language ----------------------------------------------------------------


@router.get("/signin")
async def sign_in_page(request: Request) -> Response:
    q = request.query_params
    return _page(
        "admin/signin.html",
        _lang(request),
        console(request).config,
        expired=q.get("expired") == "1",
        signed_out=q.get("signed_out") == "1",
    )


def _check(state: ServiceState, token: str) -> Role | None:
    with state.pool.ledger() as ledger:
        found = ApiKeys(ledger).check(token)
    return None if found is None else found.key.role


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    found = console(request)
    state = service_state(request)
    lang = _lang(request)
    fields = await form_fields(request)
    token = fields.get("key", "").strip()
    # The limiter of failed sign-ins is the client's address: nobody guesses keys at speed.
    client = request.client.host if request.client else "unknown"
    wait = await state.limiter.hit(f"admin-signin:{client}", 30)
    if wait is not None:
        return _page("admin/signin.html", lang, found.config, 429, failed="rate")
    role = None if not 0 < len(token) <= KEY_MAX else await run_in_threadpool(_check, state, token)
    if role is None:
        return _page("admin/signin.html", lang, found.config, 401, failed="unknown")
    if role is not Role.ADMIN:
        return _page("admin/signin.html", lang, found.config, 403, failed="not-admin")
    key_id = token.split("_")[1]
    session = sessions.new_session(key_id, found.config.session_minutes)
    response = redirect(PREFIX, found.config)
    response.set_cookie(
        COOKIE,
        sessions.encode(found.key, session),
        max_age=found.config.session_minutes * 60,
        path=PREFIX,
        secure=is_https(request, found.config),
        httponly=True,
        samesite="strict",  # nobody arrives at the console from another site's link
    )
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    visit = await _visit(request)
    if isinstance(visit, Response):
        return visit
    fields = await form_fields(request)
    if not sessions.csrf_valid(visit.console.key, visit.session, fields.get("csrf")):
        return visit.render("admin/error.html", 403, problem="csrf")
    response = redirect(f"{SIGN_IN}?signed_out=1", visit.console.config)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.get("/lang/{lang}")
async def switch_language(lang: str, request: Request) -> Response:
    return requests.switch_language(
        lang, request, prefix=PREFIX, cookie=LANG_COOKIE, config=console(request).config
    )


# ---- pages ---------------------------------------------------------------------------------------


@router.get("")
@signed_in
async def overview(visit: Visit) -> Response:
    figures = await run_in_threadpool(_figures, visit)
    content = await run_in_threadpool(_body, figures, visit.lang)
    return visit.render("admin/console.html", page_id="report", r=figures.data, body=content)


@router.get("/ropa")
@signed_in
async def ropa_page(visit: Visit) -> Response:
    figures = await run_in_threadpool(_figures, visit)
    content = await run_in_threadpool(_body, figures, visit.lang, ropa=True)
    return visit.render("admin/console.html", page_id="ropa", r=figures.data, body=content)


@router.get("/report.json")
@signed_in
async def report_json(visit: Visit) -> Response:
    figures = await run_in_threadpool(_figures, visit)
    if figures.json is None:
        figures.json = json.dumps(figures.data, indent=2, ensure_ascii=False).encode("utf-8")
    response = Response(
        figures.json,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="consentry-report.json"'},
    )
    secure(response.headers, visit.console.config, personal=True)
    return response


def install(app: FastAPI) -> None:
    """Serve the console from ``app`` under ``/admin`` (its stylesheet is among the privacy
    center's static files)."""
    app.include_router(router)
