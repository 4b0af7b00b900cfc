"""Licensees' models (docs/models.md): ``POST /v1/models`` records a model and the snapshots it
was trained on; ``GET /v1/models``, ``GET /v1/models/{id}`` read them back; and
``GET /v1/models/{id}/exposure`` says which of their records were since withdrawn, deleted or
erased. A licensee names only snapshots delivered to it and sees only its own models: another
licensee's snapshot or model answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from consentry.api.auth import LicenseeDep, State
from consentry.api.fields import plain
from consentry.api.metering import Meter
from consentry.api.problems import ProblemError
from consentry.api.scanning import scan
from consentry.models.exposure import exposure_of
from consentry.models.lineage import MAX_SNAPSHOTS, ModelConflictError, Models, model_id_of

router = APIRouter(prefix="/v1", tags=["licensees"])
ModelId = Annotated[str, PathParam(min_length=1, max_length=64)]


class ModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, plain(128)]
    version: Annotated[str, plain(128)]
    snapshots: Annotated[
        list[Annotated[str, plain(128)]],
        Field(min_length=1, max_length=MAX_SNAPSHOTS, description="snapshot ids it saw"),
    ]
    trained_at: Annotated[AwareDatetime, Field(description="RFC 3339, with an offset")]


@router.post(
    "/models",
    summary="Record a model trained on snapshots delivered to me",
    status_code=201,
    responses={
        200: {"description": "already recorded, the same"},
        404: {"description": "a snapshot not delivered to you"},
        409: {"description": "that name and version are recorded otherwise"},
    },
)
async def register_model(body: ModelIn, holder: LicenseeDep, state: State) -> JSONResponse:
    def register() -> tuple[dict[str, Any], bool]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            models = Models(ledger)
            known = models.find(model_id_of(holder.recipient, body.name, body.version))
            try:
                model = models.register(
                    holder.recipient, body.name, body.version, body.snapshots, body.trained_at
                )
            except ModelConflictError as exc:
                raise ProblemError(409, str(exc)) from None
            return model.to_json(), known is None

    found, created = await run_in_threadpool(register)
    return JSONResponse(found, status_code=201 if created else 200)


@router.get("/models", summary="The models I recorded")
async def list_models(holder: LicenseeDep, state: State) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            found = Models(ledger).held_by(holder.recipient)
        return {"recipient": holder.recipient, "models": [m.to_json() for m in found]}

    return await run_in_threadpool(read)


@router.get("/models/{model_id}", summary="One of my models")
async def get_model(model_id: ModelId, holder: LicenseeDep, state: State) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            return Models(ledger).get(holder.recipient, model_id).to_json()

    return await run_in_threadpool(read)


@router.get(
    "/models/{model_id}/exposure",
    summary="Records my model saw that were since withdrawn, deleted or erased",
)
async def model_exposure(model_id: ModelId, holder: LicenseeDep, state: State) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            model = Models(ledger).get(holder.recipient, model_id)
            scan(state.settings.workspace, ledger)
            found = exposure_of(ledger, model, state.policy.retrain_within_days)
        return found.to_json()

    return await run_in_threadpool(read)


@router.post("/models/{model_id}/retire", summary="Mark my model retrained or unlearned")
async def retire_model(model_id: ModelId, holder: LicenseeDep, state: State) -> dict[str, Any]:
    def retire() -> dict[str, Any]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            return Models(ledger).retire(holder.recipient, model_id).to_json()

    return await run_in_threadpool(retire)
