"""The assistant records conversations as they happen: ``POST /v1/assistant/turns``.

An ``assistant`` key sends a person's prompt and the assistant's response the moment they
happen; they go into the content store by the importers' path (``consentry.answer.turns``), the
person's consent for scope ``assistant`` governing any training on them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from consentry.answer.turns import Turn, TurnError, record_turns
from consentry.api.auth import AssistantDep, State
from consentry.api.fields import plain
from consentry.api.problems import ProblemError

router = APIRouter(prefix="/v1/assistant", tags=["assistant"])
MAX_TURNS = 20
MAX_TEXT = 100_000


class TurnIn(BaseModel):
    content_id: Annotated[str, plain(64)]
    kind: Literal["assistant_prompt", "assistant_response"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    created_at: AwareDatetime
    lang: Annotated[str, plain(16)] | None = None


class TurnsIn(BaseModel):
    account_id: Annotated[str, plain(64)] = Field(description="the person who talked")
    conversation_id: Annotated[str, plain(64)]
    turns: list[TurnIn] = Field(min_length=1, max_length=MAX_TURNS)


class TurnsOut(BaseModel):
    import_id: str
    content_ids: list[str]


@router.post(
    "/turns",
    summary="Record a person's prompt and the assistant's response",
    status_code=201,
    response_model=TurnsOut,
)
async def turns(body: TurnsIn, holder: AssistantDep, state: State) -> dict[str, Any]:
    """Record turns of one person's conversation with the assistant, committed at once.

    Example: `{"account_id": "1001", "conversation_id": "c-7", "turns": [{"content_id": "t-1",
    "kind": "assistant_prompt", "text": "what's on today?", "created_at": "2026-12-02T10:00:00Z"}]}`
    """
    items = [Turn(t.content_id, t.kind, t.text, t.created_at, t.lang) for t in body.turns]
    try:
        done = await run_in_threadpool(
            record_turns, state.settings.workspace, body.account_id, body.conversation_id, items
        )
    except TurnError as exc:
        raise ProblemError(422, str(exc), extra={"field": exc.field}) from None
    return {"import_id": done.import_id, "content_ids": done.content_ids}
