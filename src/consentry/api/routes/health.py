"""``/healthz``: the worker answers and its database does too."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from consentry.api.auth import State

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    ledger_seq: int


@router.get("/healthz", response_model=Health, summary="Liveness and database reachability")
async def healthz(state: State) -> Health:
    return Health(status="ok", ledger_seq=await state.consent.head_seq())
