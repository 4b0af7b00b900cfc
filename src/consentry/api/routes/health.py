"""``/healthz``: the worker answers, and so does each dependency it needs (the ledger's
database, Redis when rate limits live there); 503 when one does not, so that a load balancer
takes the worker out rather than send it requests it can only refuse."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from consentry.api.auth import State
from consentry.errors import LedgerBackendError

router = APIRouter(tags=["health"])
Check = Literal["ok", "unreachable", "not configured"]


class Dependencies(BaseModel):
    ledger: Check
    redis: Check = Field(description="'not configured': rate limits are kept per worker")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    ledger_seq: int | None = Field(description="the ledger's head (null: the ledger is down)")
    dependencies: Dependencies


@router.get(
    "/healthz",
    response_model=Health,
    summary="Liveness and reachability of the database and Redis",
    responses={503: {"model": Health, "description": "a dependency is unreachable"}},
)
async def healthz(state: State) -> JSONResponse:
    seq: int | None
    try:
        seq = await state.consent.head_seq()
    except LedgerBackendError:  # reported below; the probe repeats it every few seconds
        seq = None
    redis = await state.limiter.check()
    dependencies = Dependencies(
        ledger="ok" if seq is not None else "unreachable",
        redis="not configured" if redis is None else "ok" if redis else "unreachable",
    )
    healthy = seq is not None and redis is not False
    body = Health(
        status="ok" if healthy else "unavailable", ledger_seq=seq, dependencies=dependencies
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
