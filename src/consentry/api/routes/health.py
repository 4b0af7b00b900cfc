"""``/healthz``: the worker answers and its database does too."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from consentry.api.auth import State

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    ledger_seq: int


@router.get("/healthz", response_model=Health, summary="Liveness and database reachability")
async def healthz(state: State) -> Health:
    def head() -> int:
        with state.pool.ledger() as ledger:
            return ledger.head().seq

    return Health(status="ok", ledger_seq=await run_in_threadpool(head))
