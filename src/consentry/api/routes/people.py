"""People: their own consent, read and changed, and the Global Privacy Control signal.

A request carrying ``Sec-GPC: 1`` records a ``deny`` of ``share`` (source ``gpc``) when the
account has never decided ``share`` in any way; an explicit choice, earlier GPC deny included,
is left alone. Every ``/v1/me`` answer says what happened in the ``Consentry-GPC`` header
(``recorded``, ``explicit-choice``), and the consent view says it in its body too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from consentry.api.account_view import AccountView, read_account
from consentry.api.auth import PersonDep, State
from consentry.api.problems import ProblemError
from consentry.api.scanning import scan
from consentry.api.state import ServiceState
from consentry.compliance.whereis import export_report, where_is
from consentry.ledger import LedgerStore
from consentry.model import SHARE, ConsentDecision, Decision, Scope, Source

router = APIRouter(prefix="/v1/me", tags=["people"])
GPC_HEADER: Final = "Consentry-GPC"
Name = Annotated[str, Field(min_length=1, max_length=128)]


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
    notice_version: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class Recorded(BaseModel):
    account_id: str
    purpose: str
    decision: Decision
    scope: Scope | None
    recipient: str | None
    at: datetime
    entry: int
    head: str


def _has_share_choice(ledger: LedgerStore, account_id: str) -> bool:
    return any(
        e.kind.value == "consent" and e.purpose == SHARE for e in ledger.account_history(account_id)
    )


_NO_SIGNAL: Final = Gpc(signal=False, recorded=False, entry=None)


async def gpc(
    request: Request,
    response: Response,
    person: PersonDep,
    state: State,
    sec_gpc: Annotated[str | None, Header(alias="Sec-GPC", include_in_schema=False)] = None,
) -> Gpc:
    if (sec_gpc or "").strip() != "1":
        return _NO_SIGNAL  # the common case: no thread, no database
    # A person setting share explicitly in this very request is an explicit choice.
    if request.method == "PUT" and request.path_params.get("purpose") == SHARE:
        response.headers[GPC_HEADER] = "explicit-choice"
        return Gpc(signal=True, recorded=False, entry=None)
    outcome = await run_in_threadpool(_record_gpc, state, person.account_id)
    response.headers[GPC_HEADER] = "recorded" if outcome.recorded else "explicit-choice"
    return outcome


def _record_gpc(state: ServiceState, account_id: str) -> Gpc:
    with state.pool.ledger() as ledger:
        if _has_share_choice(ledger, account_id):
            return Gpc(signal=True, recorded=False, entry=None)
        head = ledger.append(
            [
                ConsentDecision(
                    account_id=account_id,
                    purpose=SHARE,
                    decision=Decision.DENY,
                    at=datetime.now(UTC),
                    source=Source.GPC,
                )
            ]
        )
    return Gpc(signal=True, recorded=True, entry=head.seq)


GpcDep = Annotated[Gpc, Depends(gpc)]


@router.get("/consent", response_model=ConsentView, summary="My choices per purpose and scope")
async def my_consent(
    person: PersonDep,
    state: State,
    signal: GpcDep,
    response: Response,
    recipient: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> Response:
    """Each purpose × scope of the policy: the account's latest decision, or the policy's
    default for its country (``default: true``) where it never decided."""

    def read() -> AccountView:
        with state.pool.ledger() as ledger:
            return read_account(ledger, person.account_id, recipient)

    view = await run_in_threadpool(read)
    policy = state.policy
    choices = []
    for purpose in policy.purposes:
        for scope in policy.scopes:
            row = view.decided.get((purpose, scope.value))
            if row is None:
                decision, since, entry = policy.default_for(view.country, purpose), None, None
            else:
                decision = Decision.GRANT if row.decision == 1 else Decision.DENY
                since, entry = row.at.isoformat().replace("+00:00", "Z"), row.seq
            choices.append(
                {
                    "purpose": purpose,
                    "scope": scope.value,
                    "decision": decision.value,
                    "default": row is None,
                    "since": since,
                    "entry": entry,
                }
            )
    # Built by hand and sent as is: validating 12 rows again through the response model costs
    # more than the database read (the model still documents the shape in the OpenAPI).
    body = {
        "account_id": person.account_id,
        "country": view.country,
        "ledger_seq": view.head_seq,
        "recipient": recipient,
        "choices": choices,
        "gpc": {"signal": signal.signal, "recorded": signal.recorded, "entry": signal.entry},
    }
    return JSONResponse(body, headers=dict(response.headers))


@router.put(
    "/consent/{purpose}",
    response_model=Recorded,
    summary="Grant or deny one purpose",
    responses={404: {"description": "unknown purpose"}},
)
def set_consent(
    purpose: Annotated[str, Path(min_length=1, max_length=32)],
    change: ConsentChange,
    person: PersonDep,
    state: State,
    signal: GpcDep,
) -> Recorded:
    """One call, one ledger entry (source ``api``), effective at once; no reason asked."""
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
    with state.pool.ledger() as ledger:
        head = ledger.append([item])
    if change.decision is Decision.DENY:
        state.scans.request()  # a withdrawal: recipients holding records get deletion events
    return Recorded(
        account_id=person.account_id,
        purpose=purpose,
        decision=change.decision,
        scope=change.scope,
        recipient=change.recipient,
        at=at,
        entry=head.seq,
        head=str(head),
    )


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
