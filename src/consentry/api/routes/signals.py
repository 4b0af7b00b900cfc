"""``GET /v1/signals/{account}``: one account's choice as the platform publishes it to crawlers
(docs/signals.md).

Public, no credentials: these values are what the platform's pages and robots.txt say to
anyone. They say only yes or no about AI use of already public pages, never the account's
history, country or age. Answers may be cached for a minute (``Cache-Control``), so a
withdrawal shows within that time.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from consentry.api.auth import State
from consentry.api.problems import ProblemError
from consentry.api.state import ServiceState
from consentry.errors import UsageError
from consentry.ids import check_id
from consentry.signals import load_signals_config
from consentry.signals.report import account_signals

router = APIRouter(prefix="/v1/signals", tags=["signals"])
CACHE: Final = "public, max-age=60"


class PositionOut(BaseModel):
    seq: int
    hash: str


class Signals(BaseModel):
    account: str
    content_usage: str = Field(description="AIPREF Content-Usage value (RFC 9651 dictionary)")
    content_signal: str = Field(description="Cloudflare Content-Signal line value")
    tdm_reservation: int = Field(description="W3C TDMRep: 1 reserved, 0 not")
    headers: dict[str, str] = Field(description="the response headers the account's pages carry")
    position: PositionOut = Field(description="the ledger position these are as of")


def _read(state: ServiceState, account: str) -> dict[str, Any] | None:
    config = load_signals_config(state.settings.workspace)
    with state.pool.ledger() as ledger:
        return account_signals(ledger, state.policy, config, account)


@router.get(
    "/{account}",
    response_model=Signals,
    summary="An account's AI-use signals for crawlers (public)",
    responses={404: {"description": "the ledger knows no such account"}},
)
async def account_signals_route(account: str, state: State) -> JSONResponse:
    try:
        check_id(account)
    except UsageError as exc:
        raise ProblemError(400, str(exc)) from None
    found = await run_in_threadpool(_read, state, account)
    if found is None:
        raise ProblemError(404, f"no account {account!r} in the ledger")
    return JSONResponse(Signals(**found).model_dump(), headers={"Cache-Control": CACHE})
