"""Licensees (API keys of one recipient): what they received, and what it costs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from consentry.api.auth import LicenseeDep, State
from consentry.api.metering import Meter
from consentry.api.plans import Plans

router = APIRouter(prefix="/v1", tags=["licensees"])


def count_request(state: State, recipient: str) -> None:
    with state.pool.ledger() as ledger:
        Meter(ledger).count_request(recipient)


@router.get("/usage", summary="Requests, records and bytes delivered this month, and the plan")
async def usage(holder: LicenseeDep, state: State) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            found = Meter(ledger).usage(holder.recipient)
            plan = Plans(ledger).of(holder.recipient)
        body: dict[str, Any] = dict(found.to_json())
        body["plan"] = plan.to_json() if plan else None
        return body

    return await run_in_threadpool(read)
