"""People: their own consent, read and changed, and the Global Privacy Control signal.

A request carrying ``Sec-GPC: 1`` records a ``deny`` of ``share`` (source ``gpc``) when the
account has never decided ``share`` in any way; an explicit choice, earlier GPC deny included,
is left alone. Every ``/v1/me`` answer says what happened in the ``Consentry-GPC`` header
(``recorded``, ``explicit-choice``), and the consent view says it in its body too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from consentry.api.auth import BEARER_SECURITY, Person, PersonDep, State, authenticate_person
from consentry.api.fields import plain
from consentry.api.problems import ProblemError
from consentry.api.scanning import scan
from consentry.api.state import ServiceState, service_state
from consentry.compliance.decisions import (
    Standing,
    check_decision,
    recipient_registered,
    vet_decision,
)
from consentry.compliance.whereis import export_report, where_is
from consentry.errors import GoneError
from consentry.model import SHARE, ConsentDecision, Decision, Scope, Source
from consentry.policy.choices import choices, share_choice

router = APIRouter(prefix="/v1/me", tags=["people"])
GPC_HEADER: Final = "Consentry-GPC"
PURPOSE_MAX: Final = 32
Name = Annotated[str, plain(128)]


class Gpc(BaseModel):
    signal: bool = Field(description="whether the request carried Sec-GPC: 1")
    recorded: bool = Field(description="whether this request recorded a deny of share")
    entry: int | None = Field(None, description="the ledger entry it recorded")


class Choice(BaseModel):
    purpose: str
    scope: Scope
    decision: Decision
    default: bool = Field(description="true when the account never decided: the policy's default")
    since: datetime | None = None
    entry: int | None = None


class ConsentView(BaseModel):
    account_id: str
    country: str | None
    ledger_seq: int
    recipient: str | None
    choices: list[Choice]
    gpc: Gpc


class ConsentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    scope: Scope | None = Field(None, description="narrow to one scope (default: all three)")
    recipient: Name | None = Field(None, description="for share only: one third party")
    notice_version: Annotated[str, plain(64)] | None = None


class Recorded(BaseModel):
    account_id: str
    purpose: str
    decision: Decision
    scope: Scope | None
    recipient: str | None
    at: datetime
    entry: int
    head: str
    account_known: bool = Field(
        description="false when the ledger holds no account state of this account yet: the "
        "decision is recorded and applies to its content once imported"
    )


_NO_SIGNAL: Final = Gpc(signal=False, recorded=False, entry=None)


async def read_gpc(request: Request, state: ServiceState, person: Person) -> tuple[Gpc, str | None]:
    """What the request's ``Sec-GPC`` signal did, and the ``Consentry-GPC`` header to say so."""
    if (request.headers.get("sec-gpc") or "").strip() != "1":
        return _NO_SIGNAL, None  # the common case: no thread, no database
    # A person setting share explicitly in this very request is an explicit choice.
    if request.method == "PUT" and request.path_params.get("purpose") == SHARE:
        return Gpc(signal=True, recorded=False, entry=None), "explicit-choice"
    outcome = await run_in_threadpool(_record_gpc, state, person.account_id)
    return outcome, "recorded" if outcome.recorded else "explicit-choice"


def _record_gpc(state: ServiceState, account_id: str) -> Gpc:
    deny = ConsentDecision(
        account_id=account_id,
        purpose=SHARE,
        decision=Decision.DENY,
        at=datetime.now(UTC),
        source=Source.GPC,
    )
    with state.pool.ledger() as ledger:
        if share_choice(ledger.account_history(account_id)) is not None:
            return Gpc(signal=True, recorded=False, entry=None)
        try:
            vet_decision(ledger, deny)
        except GoneError:  # an erased account records nothing, a signal included
            return Gpc(signal=True, recorded=False, entry=None)
        head = ledger.append([deny])
    return Gpc(signal=True, recorded=True, entry=head.seq)


async def gpc(
    request: Request,
    response: Response,
    person: PersonDep,
    state: State,
    sec_gpc: Annotated[str | None, Header(alias="Sec-GPC", include_in_schema=False)] = None,
) -> Gpc:
    outcome, header = await read_gpc(request, state, person)
    if header is not None:
        response.headers[GPC_HEADER] = header
    return outcome


GpcDep = Annotated[Gpc, Depends(gpc)]
_RECIPIENT_PARAM: Final = {
    "name": "recipient",
    "in": "query",
    "required": False,
    "description": "Answer for share as this third party sees it (a share decision naming a "
    "recipient counts only for that recipient).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}
_PERSON_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"description": "no valid person token"},
    403: {"description": "an API key, not a person"},
    422: {"description": "invalid parameter"},
    429: {"description": "rate limit reached"},
}


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    # The enums it refers to are components already, through the response models.
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _parse_change(body: bytes) -> ConsentChange:
    try:
        return ConsentChange.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=body) from None


def _json(body: dict[str, Any], gpc_header: str | None) -> Response:
    headers = {GPC_HEADER: gpc_header} if gpc_header else None
    return Response(orjson.dumps(body), headers=headers, media_type="application/json")


def _gpc_json(signal: Gpc) -> dict[str, Any]:
    return {"signal": signal.signal, "recorded": signal.recorded, "entry": signal.entry}


@router.get(
    "/consent",
    summary="My choices per purpose and scope",
    response_model=None,
    responses={200: {"model": ConsentView, "description": "the choices"}, **_PERSON_ERRORS},
    openapi_extra={**BEARER_SECURITY, "parameters": [_RECIPIENT_PARAM]},
)
async def my_consent(request: Request) -> Response:
    """Each purpose × scope of the policy: the account's latest decision, or the policy's
    default for its country (``default: true``) where it never decided."""
    return await consent_response(request)


async def consent_response(request: Request) -> Response:
    """``GET /v1/me/consent``, also served by ``api.fastlane`` ahead of the framework."""
    # The hot path of the service: authentication, parameters and the response are handled here
    # rather than by dependency injection and response models (same contract, documented above).
    person = await authenticate_person(request)
    recipient = request.query_params.get("recipient")
    if recipient is not None and not 1 <= len(recipient) <= 128:
        raise ProblemError(422, "recipient must be 1 to 128 characters")
    state = service_state(request)
    signal, gpc_header = await read_gpc(request, state, person)
    view = await state.consent.read(person.account_id, recipient)
    shown = [
        {
            "purpose": c.purpose,
            "scope": c.scope,
            "decision": c.decision.value,
            "default": c.default,
            "since": c.since.isoformat().replace("+00:00", "Z") if c.since else None,
            "entry": c.entry,
        }
        for c in choices(state.policy, view.country, view.decided)
    ]
    body = {
        "account_id": person.account_id,
        "country": view.country,
        "ledger_seq": view.head_seq,
        "recipient": recipient,
        "choices": shown,
        "gpc": _gpc_json(signal),
    }
    return _json(body, gpc_header)


@router.put(
    "/consent/{purpose}",
    summary="Grant or deny one purpose",
    response_model=None,
    responses={
        200: {"model": Recorded, "description": "the ledger entry recorded"},
        404: {"description": "unknown purpose, or unregistered recipient"},
        410: {"description": "the account was erased: it records no further decision"},
        **_PERSON_ERRORS,
    },
    openapi_extra={**BEARER_SECURITY, "requestBody": _body_schema(ConsentChange)},
)
async def set_consent(
    purpose: Annotated[str, Path(min_length=1, max_length=PURPOSE_MAX)], request: Request
) -> Response:
    """One call, one ledger entry (source ``api``), effective at once; no reason asked."""
    return await change_response(request)


async def change_response(request: Request) -> Response:
    """``PUT /v1/me/consent/{purpose}``, also served by ``api.fastlane``."""
    purpose = str(request.path_params["purpose"])
    person = await authenticate_person(request)  # before the body: 401 comes before 422
    change = _parse_change(await request.body())
    state = service_state(request)
    _, gpc_header = await read_gpc(request, state, person)
    if purpose not in state.policy.purposes:
        raise ProblemError(
            404, f"unknown purpose {purpose!r}: known are {', '.join(state.policy.purposes)}"
        )
    if change.recipient and purpose != SHARE:
        raise ProblemError(422, "only the share purpose takes a recipient")
    at = datetime.now(UTC)
    item = ConsentDecision(
        account_id=person.account_id,
        purpose=purpose,
        decision=change.decision,
        at=at,
        source=Source.API,
        scope=change.scope,
        notice_version=change.notice_version,
        recipient=change.recipient,
    )
    view = await state.consent.read(person.account_id, None)
    registered = True
    if change.recipient:  # rare: a share decision about one third party
        registered = await run_in_threadpool(_recipient_registered, state, item)
    check_decision(item, Standing(view.known, view.erased), recipient_registered=registered)
    head = await state.consent.append(item)
    if change.decision is Decision.DENY:
        state.scans.request()  # a withdrawal: recipients holding records get deletion events
    body = {
        "account_id": person.account_id,
        "purpose": purpose,
        "decision": change.decision.value,
        "scope": change.scope.value if change.scope else None,
        "recipient": change.recipient,
        "at": at.isoformat().replace("+00:00", "Z"),
        "entry": head.seq,
        "head": str(head),
        "account_known": view.known,
    }
    return _json(body, gpc_header)


def _recipient_registered(state: ServiceState, decision: ConsentDecision) -> bool:
    with state.pool.ledger() as ledger:
        return recipient_registered(ledger, decision)


@router.get("/whereis", summary="Every snapshot holding my records (GDPR art. 15)")
def my_whereis(person: PersonDep, state: State, signal: GpcDep) -> dict[str, Any]:
    """The same answer as `consentry whereis ACCOUNT`: snapshots, recipients, records, and the
    deletion events sent and still unacknowledged."""
    with state.pool.ledger() as ledger:
        scan(state.settings.workspace, ledger)
        return dict(where_is(ledger, person.account_id).to_json())


@router.get("/export", summary="Everything known of my consent and data flows (JSON)")
def my_export(person: PersonDep, state: State, signal: GpcDep) -> dict[str, Any]:
    """The same report as `consentry export ACCOUNT`."""
    with state.pool.ledger() as ledger:
        scan(state.settings.workspace, ledger)
        return export_report(ledger, person.account_id)
