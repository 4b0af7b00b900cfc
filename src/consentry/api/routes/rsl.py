"""``GET /.well-known/rsl.xml``: the plans as an RSL 1.0 license file (public, no credentials;
``consentry.models.rsl``). Currency and terms come from config.toml's ``[rsl]``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from consentry.api.auth import State
from consentry.api.plans import Plans
from consentry.models.rsl import MEDIA_TYPE, rsl_document, rsl_settings

router = APIRouter(tags=["licensing"])


@router.get(
    "/.well-known/rsl.xml",
    summary="The licensing offer (plans) as an RSL 1.0 document (public)",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE: {}}}},
)
async def rsl(state: State) -> Response:
    def read() -> bytes:
        ws = state.settings.workspace
        currency, terms = rsl_settings(ws.config_section("rsl"))
        with state.pool.ledger() as ledger:
            plans = Plans(ledger).list()
        return rsl_document(plans, currency, terms)

    body = await run_in_threadpool(read)
    return Response(body, media_type=MEDIA_TYPE, headers={"Cache-Control": "public, max-age=300"})
