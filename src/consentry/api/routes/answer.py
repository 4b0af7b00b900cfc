"""The assistant (an API key of role ``assistant``): may these posts ground this answer, now?

Answered from the worker's own answer index (``consentry.answer``), kept within a second of the
ledger's head: no database read per call besides the key's. ``Server-Timing`` tells how long
the verdicts took, apart from the network and the framework.
"""

from __future__ import annotations

import time
from typing import Annotated, Final

import orjson
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from consentry.answer import LiveAnswers, Verdicts
from consentry.api.auth import AssistantDep, State
from consentry.api.fields import plain
from consentry.api.problems import ProblemError
from consentry.model import SHARE

router = APIRouter(prefix="/v1/answer", tags=["assistant"])
#: Most content ids in one call (~300 KB of request).
MAX_IDS: Final = 10_000
#: Request bytes the route accepts (``BodyLimit``): ``MAX_IDS`` ids of up to 64 characters.
MAX_BODY: Final = MAX_IDS * 72 + 1024
ContentId = Annotated[str, plain(64)]


class EligibleRequest(BaseModel):
    content_ids: list[ContentId] = Field(
        min_length=1, description=f"the candidates, at most {MAX_IDS}"
    )
    purpose: Annotated[str, plain(32)] = Field("answer", description="a purpose of the policy")


class EligibleAnswer(BaseModel):
    purpose: str
    ledger_seq: int = Field(description="the ledger position the verdicts hold as of")
    verdicts: dict[str, str] = Field(
        description="per content id: `eligible`, the one reason code, or `unknown`"
    )


def answer_bytes(found: Verdicts, purpose: str) -> bytes:
    """The answer's JSON (``EligibleAnswer``), written by orjson: the benchmark times this."""
    verdicts = dict(zip(found.ids, found.codes, strict=True))
    return orjson.dumps({"purpose": purpose, "ledger_seq": found.seq, "verdicts": verdicts})


def live_answers(state: State) -> LiveAnswers:
    live = state.answers
    if live is None:
        raise ProblemError(503, "live eligibility is not running in this worker")
    return live


@router.post(
    "/eligible",
    summary="Which of these content items may ground an answer now",
    response_model=EligibleAnswer,
    responses={413: {"description": f"more than {MAX_IDS} content ids"}},
)
async def eligible(body: EligibleRequest, holder: AssistantDep, state: State) -> Response:
    """For each content id: `eligible`, or the one reason code the build would give
    (`consent_denied`, `protected_account`, `content_deleted`, …), as of the ledger head;
    `unknown` for an id Consentry never imported.

    Example: `{"content_ids": ["9001", "9002"], "purpose": "answer"}`
    """
    if len(body.content_ids) > MAX_IDS:
        raise ProblemError(
            413,
            f"content_ids: {len(body.content_ids)} ids, at most {MAX_IDS} per call",
            extra={"field": "content_ids"},
        )
    if body.purpose == SHARE or body.purpose not in state.policy.purposes:
        known = ", ".join(p for p in state.policy.purposes if p != SHARE)
        raise ProblemError(
            422, f"purpose: {body.purpose!r} is not one of {known}", extra={"field": "purpose"}
        )
    live = live_answers(state)
    started = time.perf_counter()
    found = live.verdicts(body.content_ids, body.purpose)
    took_ms = (time.perf_counter() - started) * 1000
    return Response(
        answer_bytes(found, body.purpose),
        media_type="application/json",
        headers={"Server-Timing": f"verdicts;dur={took_ms:.3f}"},
    )
