"""The ledger's changes, for the platform's own caches: ``GET /v1/changes?since=SEQ``.

A long-poll: with nothing after ``since``, the answer waits up to ``wait`` seconds for the
worker's answer index to move (it follows the ledger within a second), then answers what there
is, possibly nothing. A cache asks again with ``since`` = the ``next`` it was given.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from consentry.answer.changes import MAX_CHANGES, changes_since
from consentry.api.auth import AnyPrincipal, KeyHolder, State
from consentry.api.keys import Role
from consentry.api.problems import ProblemError
from consentry.api.routes.answer import live_answers

router = APIRouter(prefix="/v1", tags=["assistant"])
MAX_WAIT: Final = 30.0
#: How often a waiting long-poll looks at the worker's index position (no database read).
_TICK: Final = 0.05


class ChangesAnswer(BaseModel):
    since: int
    next: int = Field(description="the `since` of the next call")
    changes: list[dict[str, Any]] = Field(
        description="ledger entries after `since`: seq, kind, account_id, and what they set"
    )


async def feed_reader(principal: AnyPrincipal) -> KeyHolder:
    if not isinstance(principal, KeyHolder) or principal.key.role not in (
        Role.ASSISTANT,
        Role.ADMIN,
    ):
        raise ProblemError(403, "this endpoint needs an assistant or an admin key")
    return principal


@router.get(
    "/changes", summary="Ledger changes after a position (long-poll)", response_model=ChangesAnswer
)
async def changes(
    state: State,
    holder: Annotated[KeyHolder, Depends(feed_reader)],
    since: Annotated[int, Query(ge=0, le=2**62, description="the last seq already seen")] = 0,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT, description="seconds to wait for one")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_CHANGES)] = MAX_CHANGES,
) -> dict[str, Any]:
    """Ledger entries after `since`, oldest first; waits up to `wait` seconds for one.

    Example: `GET /v1/changes?since=1200&wait=25`
    """
    live = live_answers(state)
    deadline = time.monotonic() + wait
    while live.seq <= since and time.monotonic() < deadline:
        await asyncio.sleep(_TICK)

    def read() -> list[dict[str, Any]]:
        with state.pool.ledger() as ledger:
            return changes_since(ledger, since, limit)

    found = await run_in_threadpool(read)
    return {"since": since, "next": found[-1]["seq"] if found else since, "changes": found}
