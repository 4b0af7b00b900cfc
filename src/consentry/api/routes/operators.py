"""Operators (admin keys): API keys, plans, plan assignments, usage and invoices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from consentry.api import jobs
from consentry.api.auth import AdminDep, State
from consentry.api.fields import plain
from consentry.api.keys import ApiKeys, Role
from consentry.api.metering import Meter
from consentry.api.plans import Plan, Plans
from consentry.api.problems import ProblemError
from consentry.compliance.recipients import Recipients
from consentry.ledger import LedgerStore

router = APIRouter(prefix="/v1/admin", tags=["operators"])
Name = Annotated[str, PathParam(min_length=1, max_length=128)]
Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    recipient: Annotated[str, plain(128)] | None = None
    label: Annotated[str, plain(200, min_length=0)] | None = None


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monthly_price_cents: Annotated[int, Field(ge=0, le=10**12)]
    included_records: Annotated[int, Field(ge=0, le=10**15)]
    overage_cents_per_1000: Annotated[int, Field(ge=0, le=10**9)]
    requests_per_minute: Annotated[int, Field(ge=1, le=10**7)]


class RecipientBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, plain(63)]
    contact: Annotated[str, plain(254, min_length=0)] | None = None
    ack_days: Annotated[int, Field(ge=1, le=3650)] = 30


class BuildRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Annotated[str, plain(32)]
    recipient: Annotated[str, plain(63)] | None = None


class PlanAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Annotated[str, plain(64)]


async def _in_thread(state: State, fn: Any) -> Any:
    def run() -> Any:
        with state.pool.ledger() as ledger:
            return fn(ledger)

    return await run_in_threadpool(run)


@router.get("/keys", summary="Every API key (never their secrets)")
async def list_keys(_: AdminDep, state: State) -> list[dict[str, Any]]:
    keys = await _in_thread(state, lambda ledger: ApiKeys(ledger).list())
    return [k.to_json() for k in keys]


@router.post("/keys", status_code=201, summary="Create a key: its secret is shown this once")
async def create_key(body: KeyRequest, _: AdminDep, state: State) -> dict[str, Any]:
    new = await _in_thread(
        state,
        lambda ledger: ApiKeys(ledger).create(
            body.role, recipient=body.recipient, label=body.label
        ),
    )
    return {"key": new.key.to_json(), "secret": new.secret}


@router.post("/keys/{key_id}/revoke", summary="Revoke a key at once")
async def revoke_key(key_id: Name, _: AdminDep, state: State) -> dict[str, Any]:
    key = await _in_thread(state, lambda ledger: ApiKeys(ledger).revoke(key_id))
    return dict(key.to_json())


@router.post("/keys/{key_id}/rotate", status_code=201, summary="Replace a key by a new one")
async def rotate_key(key_id: Name, _: AdminDep, state: State) -> dict[str, Any]:
    new = await _in_thread(state, lambda ledger: ApiKeys(ledger).rotate(key_id))
    return {"key": new.key.to_json(), "secret": new.secret}


@router.get("/plans", summary="Every plan")
async def list_plans(_: AdminDep, state: State) -> list[dict[str, object]]:
    plans = await _in_thread(state, lambda ledger: Plans(ledger).list())
    return [p.to_json() for p in plans]


@router.put("/plans/{name}", summary="Create or change a plan")
async def put_plan(name: Name, body: PlanBody, _: AdminDep, state: State) -> dict[str, object]:
    plan = Plan(name, **body.model_dump())
    saved = await _in_thread(state, lambda ledger: Plans(ledger).put(plan))
    return dict(saved.to_json())


@router.put("/recipients/{recipient}/plan", summary="Put a recipient on a plan")
async def assign_plan(
    recipient: Name, body: PlanAssignment, _: AdminDep, state: State
) -> dict[str, object]:
    plan = await _in_thread(state, lambda ledger: Plans(ledger).assign(recipient, body.plan))
    return {"recipient": recipient, "plan": plan.to_json()}


@router.get("/recipients/{recipient}/usage", summary="A recipient's metered usage in a month")
async def recipient_usage(
    recipient: Name, _: AdminDep, state: State, month: Month = None
) -> dict[str, object]:
    usage = await _in_thread(state, lambda ledger: Meter(ledger).usage(recipient, month))
    return dict(usage.to_json())


@router.get("/invoices/{recipient}", summary="A recipient's invoice for a month")
async def invoice(
    recipient: Name,
    _: AdminDep,
    state: State,
    month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
) -> dict[str, object]:
    bill = await _in_thread(state, lambda ledger: Meter(ledger).invoice(recipient, month))
    return dict(bill.to_json())


@router.get("/recipients", summary="Every recipient (third parties that receive snapshots)")
async def list_recipients(_: AdminDep, state: State) -> list[dict[str, Any]]:
    found = await _in_thread(state, lambda ledger: Recipients(ledger).list())
    return [r.to_json() for r in found]


@router.post("/recipients", status_code=201, summary="Register a recipient")
async def add_recipient(body: RecipientBody, _: AdminDep, state: State) -> dict[str, Any]:
    added = await _in_thread(
        state, lambda ledger: Recipients(ledger).add(body.name, body.contact, body.ack_days)
    )
    return dict(added.to_json())


@router.post("/snapshots", status_code=202, summary="Build a snapshot in the background")
async def build_snapshot(body: BuildRequest, _: AdminDep, state: State) -> dict[str, Any]:
    ws = state.settings.workspace

    def accept(ledger: LedgerStore) -> jobs.Job:
        jobs.check_build(ledger, ws, body.purpose, body.recipient)
        params = jobs.snapshot_params(ledger, body.purpose, body.recipient)
        return jobs.Jobs(ledger).create("snapshot", params, state.worker_id)

    job = await _in_thread(state, accept)
    jobs.start_build(ws, job, state.worker_id, state.settings.job_lease_s)
    return dict(job.to_json())


@router.get("/jobs", summary="Recent background jobs")
async def list_jobs(_: AdminDep, state: State) -> list[dict[str, Any]]:
    found = await _in_thread(state, lambda ledger: jobs.Jobs(ledger).list())
    return [j.to_json() for j in found]


@router.get("/jobs/{job_id}", summary="A background job's status")
async def get_job(job_id: Name, _: AdminDep, state: State) -> dict[str, Any]:
    job = await _in_thread(state, lambda ledger: jobs.Jobs(ledger).find(job_id))
    if job is None:
        raise ProblemError(404, f"no job {job_id!r}")
    return dict(job.to_json())
