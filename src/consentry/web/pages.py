"""The privacy center's routes: sign-in by token link, choices, receipts, recipients, where the
data is, rights (export, erasure, history), language switch, sign-out.

Every change is a form POST carrying the session's CSRF token, checked before anything is read;
every decision passes the library's one rule (``compliance.decisions.check_decision``) and is
recorded with source ``web``, effective at once, as the API records its own (one choice through
the same consent access as ``PUT /v1/me/consent``; several, or a recipient's, in one append).
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from consentry.api import tokens
from consentry.api.auth import Person
from consentry.api.routes.me_recipients import recipients_of
from consentry.api.routes.people import read_gpc
from consentry.api.scanning import scan
from consentry.api.state import ServiceState, service_state
from consentry.compliance.decisions import Standing, check_decision, vet_decision
from consentry.compliance.erasure import erase
from consentry.compliance.whereis import export_report, where_is
from consentry.content.store import ContentStore
from consentry.errors import GoneError, NotFoundError, UsageError
from consentry.ledger import LedgerEntry, LedgerStore
from consentry.ledger.entries import EntryKind
from consentry.model import SHARE, AccountStatus, ConsentDecision, Decision, Source
from consentry.model import Scope as ContentScope
from consentry.policy.choices import choices
from consentry.web import requests, sessions
from consentry.web.config import CenterConfig, load_config
from consentry.web.i18n import LANG_COOKIE
from consentry.web.render import STATIC, Rendered, page, render, respond, secure
from consentry.web.requests import form_fields, is_https, language, redirect
from consentry.web.sessions import Session

PREFIX: Final = "/privacy"
SIGN_IN: Final = f"{PREFIX}/signin"
#: The most entries one receipt shows: a "refuse everything" of a large policy.
RECEIPT_MAX: Final = 64
#: Choices pages kept rendered per worker (see ``render.Rendered``).
CHOICES_CACHED: Final = 2048

router = APIRouter(prefix=PREFIX, include_in_schema=False)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Center:
    """What the privacy center keeps for the life of a worker."""

    config: CenterConfig
    key: bytes
    #: The choices pages rendered in this worker (~15 KB each).
    rendered: Rendered = field(default_factory=lambda: Rendered(CHOICES_CACHED))


def center(request: Request) -> Center:
    found = getattr(request.app.state, "privacy_center", None)
    if found is None:
        state = service_state(request)
        ws = state.settings.workspace
        found = Center(load_config(ws), sessions.session_key(ws.secret()))
        request.app.state.privacy_center = found
    assert isinstance(found, Center)
    return found


@dataclass(frozen=True, slots=True)
class Visit:
    """One request of a signed-in person."""

    request: Request
    state: ServiceState
    center: Center
    session: Session
    lang: str

    @property
    def account_id(self) -> str:
        return self.session.account_id

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        return page(
            template,
            self.lang,
            self.center.config,
            {
                "csrf": sessions.csrf_token(self.center.key, self.session),
                "signed_in": True,
                "here": self.request.url.path,
                **context,
            },
            status=status,
        )


def _lang(request: Request) -> str:
    return language(request, LANG_COOKIE)


async def _visit(request: Request) -> Visit | Response:
    """The signed-in visit, or the redirect to sign-in (no session, or it expired), or 429
    past the person's rate limit (the API's, in the same bucket: one limit per person)."""
    found = center(request)
    session = sessions.decode(found.key, request.cookies.get(sessions.COOKIE))
    if session is None:
        expired = "?expired=1" if request.cookies.get(sessions.COOKIE) else ""
        return redirect(SIGN_IN + expired, found.config)
    state = service_state(request)
    visit = Visit(request, state, found, session, _lang(request))
    rate = state.settings.person_rate
    wait = await state.limiter.hit(f"person:{session.account_id}", rate)
    request.state.principal = "person"  # the access log's word for a person
    if wait is not None:
        response = visit.render("error.html", 429, problem="rate")
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    return visit


async def _form(request: Request, visit: Visit) -> dict[str, str] | Response:
    """The form's fields, once its CSRF token is the session's; a 403 page otherwise."""
    fields = await form_fields(request)
    if not sessions.csrf_valid(visit.center.key, visit.session, fields.get("csrf")):
        return visit.render("error.html", 403, problem="csrf")
    return fields


Page = Callable[[Visit], Awaitable[Response]]
Post = Callable[[Visit, dict[str, str]], Awaitable[Response]]
Route = Callable[[Request], Awaitable[Response]]


def signed_in(handler: Page) -> Route:
    """A route for signed-in people only: the others go to sign-in."""

    async def route(request: Request) -> Response:
        visit = await _visit(request)
        if isinstance(visit, Response):
            return visit
        return await handler(visit)

    route.__name__ = handler.__name__
    return route


def posted(handler: Post) -> Route:
    """A form POST of a signed-in person, its CSRF token checked before the handler runs."""

    async def route(request: Request) -> Response:
        visit = await _visit(request)
        if isinstance(visit, Response):
            return visit
        fields = await _form(visit.request, visit)
        if isinstance(fields, Response):
            return fields
        return await handler(visit, fields)

    route.__name__ = handler.__name__
    return route


async def _read(visit: Visit, read: Callable[[LedgerStore], T]) -> T:
    """``read`` of the ledger, in a worker thread."""

    def run() -> T:
        with visit.state.pool.ledger() as ledger:
            return read(ledger)

    return await run_in_threadpool(run)


# ---- sign-in, sign-out, language ----------------------------------------------------------------


@router.get("")
async def home(request: Request) -> Response:
    token = request.query_params.get("token")
    if token is not None:
        return _sign_in(request, token)
    visit = await _visit(request)
    if isinstance(visit, Response):
        return visit
    gpc, _ = await read_gpc(request, visit.state, Person(visit.account_id))
    data = await _choices_data(visit)
    rows = tuple((r["choice"], r["source"]) for p in data["purposes"] for r in p["choices"])
    key = (visit.lang, gpc.signal, gpc.recorded, gpc.entry, data["erased"], rows)
    context = {
        "csrf": Rendered.MARK,
        "signed_in": True,
        "here": PREFIX,
        "page_id": "choices",
        "gpc": gpc,
        **data,
    }
    html = visit.center.rendered.get(
        key,
        lambda: render("choices.html", visit.lang, context),
        sessions.csrf_token(visit.center.key, visit.session),
    )
    return respond(html, visit.center.config)


def _sign_in(request: Request, token: str) -> Response:
    found = center(request)
    state = service_state(request)
    try:
        account = state.token_checker.account_of(token)
    except tokens.InvalidTokenError:
        return page("signin.html", _lang(request), found.config, {"failed": True}, status=401)
    session = sessions.new_session(account, found.config.session_minutes)
    # 303 to the bare address: the token leaves the URL bar and the history.
    response = redirect(PREFIX, found.config)
    response.set_cookie(
        sessions.COOKIE,
        sessions.encode(found.key, session),
        max_age=found.config.session_minutes * 60,
        path=PREFIX,
        secure=is_https(request, found.config),
        httponly=True,
        # Lax, not Strict: the platform's link is a cross-site navigation, and a Strict cookie
        # would not come back on the redirect that follows it. Cross-site POSTs still come
        # without it, and every POST needs the session's CSRF token besides.
        samesite="lax",
    )
    return response


@router.get("/signin")
async def sign_in_page(request: Request) -> Response:
    q = request.query_params
    context = {"expired": q.get("expired") == "1", "signed_out": q.get("signed_out") == "1"}
    return page("signin.html", _lang(request), center(request).config, context)


@router.post("/signout")
@posted
async def sign_out(visit: Visit, fields: dict[str, str]) -> Response:
    response = redirect(f"{SIGN_IN}?signed_out=1", visit.center.config)
    response.delete_cookie(sessions.COOKIE, path=PREFIX)
    return response


@router.get("/lang/{lang}")
async def switch_language(lang: str, request: Request) -> Response:
    return requests.switch_language(
        lang, request, prefix=PREFIX, cookie=LANG_COOKIE, config=center(request).config
    )


# ---- my choices and their receipts ---------------------------------------------------------------


def _sources(ledger: LedgerStore, seqs: list[int]) -> dict[int, str]:
    """Where each of the entries ``seqs`` came from (its ``source``)."""
    marks = ", ".join("?" * len(seqs))
    rows = ledger.query(f"SELECT seq, source FROM ledger_entries WHERE seq IN ({marks})", seqs)
    return {int(seq): str(source) for seq, source in rows}


def _erased(history: list[LedgerEntry]) -> LedgerEntry | None:
    for entry in history:
        if (
            entry.kind is not EntryKind.CONSENT
            and entry.attrs is not None
            and str(entry.attrs.get("status")) == AccountStatus.ERASED.value
        ):
            return entry
    return None


async def _choices_data(visit: Visit) -> dict[str, Any]:
    """The page's data in the one read the API's ``GET /v1/me/consent`` makes (the same view,
    batched on PostgreSQL's event-loop pool), where the choices in force were made included."""
    policy = visit.state.policy
    view = await visit.state.consent.read(visit.account_id, None)
    rows = choices(policy, view.country, view.decided)
    sources = view.sources
    purposes = [
        {
            "name": name,
            "description": policy.description(name, visit.lang),
            "choices": [
                {"choice": c, "source": sources.get(c.entry) if c.entry else None}
                for c in rows
                if c.purpose == name
            ],
        }
        for name in policy.purposes
    ]
    return {"purposes": purposes, "erased": view.erased}


def _decision(fields: dict[str, str], name: str = "decision") -> Decision | None:
    try:
        return Decision(fields.get(name, ""))
    except ValueError:
        return None


def _record(visit: Visit, decisions: list[ConsentDecision]) -> tuple[int, int, str]:
    """Record ``decisions`` under the library's rule: (first seq, last seq, head)."""
    with visit.state.pool.ledger() as ledger:
        for decision in decisions:
            vet_decision(ledger, decision)
        head = ledger.append(decisions)
    if any(d.decision is Decision.DENY for d in decisions):
        visit.state.scans.request()  # a withdrawal: holders of records get deletion events
    return head.seq - len(decisions) + 1, head.seq, str(head)


async def _change(visit: Visit, decisions: list[ConsentDecision]) -> Response:
    try:
        if len(decisions) == 1 and decisions[0].recipient is None:
            first, last, head = await _record_one(visit, decisions[0])
        else:
            first, last, head = await run_in_threadpool(_record, visit, decisions)
    except GoneError:
        return visit.render("error.html", 410, problem="erased")
    except (NotFoundError, UsageError):
        return visit.render("error.html", 404, problem="unknown")
    query = urllib.parse.urlencode({"first": first, "last": last, "head": head})
    return redirect(f"{PREFIX}/receipt?{query}", visit.center.config)


async def _record_one(visit: Visit, decision: ConsentDecision) -> tuple[int, int, str]:
    """One choice (no recipient), the way ``PUT /v1/me/consent`` records one: the standing
    from the consent view, then the one-entry append on the worker's own event loop."""
    view = await visit.state.consent.read(visit.account_id, None)
    check_decision(decision, Standing(view.known, view.erased))
    head = await visit.state.consent.append(decision)
    if decision.decision is Decision.DENY:
        visit.state.scans.request()
    return head.seq, head.seq, str(head)


def _decided(visit: Visit, purpose: str, decision: Decision, **extra: Any) -> ConsentDecision:
    return ConsentDecision(
        account_id=visit.account_id,
        purpose=purpose,
        decision=decision,
        at=datetime.now(UTC),
        source=Source.WEB,
        **extra,
    )


@router.post("/choice")
@posted
async def change_choice(visit: Visit, fields: dict[str, str]) -> Response:
    purpose, decision = fields.get("purpose", ""), _decision(fields)
    try:
        scope = ContentScope(fields["scope"]) if fields.get("scope") else None
    except ValueError:
        scope = None
        decision = None
    if purpose not in visit.state.policy.purposes or decision is None:
        return visit.render("error.html", 400, problem="bad-form")
    return await _change(visit, [_decided(visit, purpose, decision, scope=scope)])


@router.post("/refuse-all")
@posted
async def refuse_everything(visit: Visit, fields: dict[str, str]) -> Response:
    denials = [_decided(visit, p, Decision.DENY) for p in visit.state.policy.purposes]
    return await _change(visit, denials)


@router.post("/share")
@posted
async def change_share(visit: Visit, fields: dict[str, str]) -> Response:
    decision, recipient = _decision(fields), fields.get("recipient", "")
    if decision is None or not 1 <= len(recipient) <= 128:
        return visit.render("error.html", 400, problem="bad-form")
    return await _change(visit, [_decided(visit, SHARE, decision, recipient=recipient)])


def _receipt(visit: Visit, first: int, last: int, head: str) -> dict[str, Any] | None:
    """The receipt of the person's own entries ``first``..``last``; None when any is not theirs."""
    with visit.state.pool.ledger() as ledger:
        mine = {
            e.seq: e
            for e in ledger.account_history(visit.account_id)
            if first <= e.seq <= last and e.kind is EntryKind.CONSENT
        }
        if len(mine) != last - first + 1:
            return None
        seq_text, _, hash_text = head.partition(":")
        shown_head = None
        if seq_text.isdigit() and int(seq_text) >= last:
            try:
                if ledger.entry(int(seq_text)).hash == hash_text:
                    shown_head = head
            except NotFoundError:
                pass
    entries = [mine[s] for s in range(first, last + 1)]
    anchor = shown_head or f"{entries[-1].seq}:{entries[-1].hash}"
    return {
        "receipt": "consentry consent receipt",
        "account_id": visit.account_id,
        "entries": [
            {
                "seq": e.seq,
                "hash": e.hash,
                "purpose": e.purpose,
                "scope": e.scope,
                "recipient": e.recipient,
                "decision": e.decision,
                "at": e.at.isoformat(),
                "source": str(e.source),
            }
            for e in entries
        ],
        "head": shown_head,
        "verify": f"consentry ledger verify --against {anchor}",
    }


def _receipt_args(request: Request) -> tuple[int, int, str] | None:
    q = request.query_params
    first, last = q.get("first", ""), q.get("last", "")
    if not (first.isdigit() and last.isdigit()):
        return None
    a, b = int(first), int(last)
    if not 1 <= a <= b or b - a >= RECEIPT_MAX:
        return None
    return a, b, q.get("head", "")


async def _receipt_or_404(request: Request) -> tuple[Visit, dict[str, Any]] | Response:
    visit = await _visit(request)
    if isinstance(visit, Response):
        return visit
    args = _receipt_args(request)
    found = None if args is None else await run_in_threadpool(_receipt, visit, *args)
    if found is None:
        return visit.render("error.html", 404, problem="not-yours")
    return visit, found


@router.get("/receipt")
async def receipt(request: Request) -> Response:
    found = await _receipt_or_404(request)
    if isinstance(found, Response):
        return found
    visit, doc = found
    json_link = f"{PREFIX}/receipt.json?{request.url.query}"
    return visit.render("receipt.html", page_id="receipt", doc=doc, json_link=json_link)


def _download(doc: dict[str, Any], filename: str, config: CenterConfig) -> Response:
    response = Response(
        json.dumps(doc, indent=2, ensure_ascii=False, default=str),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    secure(response.headers, config, personal=True)
    return response


@router.get("/receipt.json")
async def receipt_json(request: Request) -> Response:
    found = await _receipt_or_404(request)
    if isinstance(found, Response):
        return found
    visit, doc = found
    last = doc["entries"][-1]["seq"]
    return _download(doc, f"consentry-receipt-{last}.json", visit.center.config)


# ---- who gets my data, where it is ---------------------------------------------------------------


@router.get("/recipients")
@signed_in
async def recipients_page(visit: Visit) -> Response:
    policy = visit.state.policy

    def read(ledger: LedgerStore) -> tuple[list[Any], dict[int, str]]:
        found = recipients_of(ledger, policy, visit.account_id)
        decided = sorted({c.entry for r in found for c in r.share if c.entry})
        return found, _sources(ledger, decided) if decided else {}

    found, sources = await _read(visit, read)
    return visit.render("recipients.html", page_id="recipients", recipients=found, sources=sources)


@router.get("/whereis")
@signed_in
async def whereis_page(visit: Visit) -> Response:

    def read(ledger: LedgerStore) -> Any:
        scan(visit.state.settings.workspace, ledger)
        return where_is(ledger, visit.account_id)

    found = await _read(visit, read)
    return visit.render("whereis.html", page_id="whereis", held=found)


# ---- my data and my rights ----------------------------------------------------------------------


@router.get("/rights")
@signed_in
async def rights_page(visit: Visit) -> Response:

    history = await _read(visit, lambda ledger: ledger.account_history(visit.account_id))
    erased = _erased(history)
    return visit.render(
        "rights.html",
        page_id="rights",
        history=[e for e in history if e.kind is EntryKind.CONSENT],
        erased=erased,
    )


@router.get("/export.json")
@signed_in
async def export_download(visit: Visit) -> Response:

    def read(ledger: LedgerStore) -> dict[str, Any]:
        scan(visit.state.settings.workspace, ledger)
        return export_report(ledger, visit.account_id)

    doc = await _read(visit, read)
    return _download(doc, "consentry-export.json", visit.center.config)


@router.get("/erase")
@signed_in
async def erase_confirmation(visit: Visit) -> Response:
    return visit.render("erase.html", page_id="erase")


def _erase(visit: Visit) -> int:
    ws = visit.state.settings.workspace
    with visit.state.pool.ledger() as ledger:
        done = erase(
            ledger,
            ContentStore(ws.content_dir),
            visit.state.policy,
            ws.secret(),
            visit.account_id,
            ws.certificates_dir,
            ws.quarantine_dir,
        )
    return int(done.certificate["ledger"]["erasure_entry"])


@router.post("/erase")
@posted
async def erase_account(visit: Visit, fields: dict[str, str]) -> Response:
    if fields.get("confirm") != "yes":
        return visit.render("erase.html", 400, page_id="erase", unconfirmed=True)
    try:
        await run_in_threadpool(_erase, visit)
    except UsageError:  # the ledger never saw the account: nothing to erase
        return visit.render("error.html", 404, problem="unknown-account")
    return redirect(f"{PREFIX}/rights?erased=1", visit.center.config)


def _certificate(visit: Visit) -> dict[str, Any] | None:
    with visit.state.pool.ledger() as ledger:
        erased = _erased(ledger.account_history(visit.account_id))
    if erased is None:
        return None
    # The file ``compliance.erasure`` issued for this account's erasure entry.
    path = visit.state.settings.workspace.certificates_dir / f"erasure-{erased.seq:012d}.json"
    try:
        doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    return doc


@router.get("/certificate.json")
@signed_in
async def certificate_download(visit: Visit) -> Response:
    doc = await run_in_threadpool(_certificate, visit)
    if doc is None:
        return visit.render("error.html", 404, problem="no-certificate")
    return _download(doc, "consentry-erasure-certificate.json", visit.center.config)


# ---- static files --------------------------------------------------------------------------------


class _Static(StaticFiles):
    """The stylesheet, with the same security headers as the pages (cacheable: nothing personal)."""

    def __init__(self, config_of: Any) -> None:
        super().__init__(directory=STATIC)
        self._config_of = config_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        config: CenterConfig = self._config_of()

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                secure(MutableHeaders(scope=message), config, personal=False)
            await send(message)

        await super().__call__(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    """Serve the privacy center from ``app``: its pages under ``/privacy``, its assets under
    ``/privacy/static``."""

    def config_of() -> CenterConfig:
        found = getattr(app.state, "privacy_center", None)
        if isinstance(found, Center):
            return found.config
        return load_config(app.state.consentry.settings.workspace)

    app.include_router(router)
    app.mount(f"{PREFIX}/static", _Static(config_of), name="privacy-static")
