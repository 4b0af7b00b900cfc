"""Retrieval that obeys: keep, of ranked candidates, only those that may ground an answer now."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from consentry.answer.index import ELIGIBLE

T = TypeVar("T")
#: Asks verdicts for content ids: ``AnswerIndex.verdicts(ids, purpose).codes``, or a call to
#: ``POST /v1/answer/eligible`` (one call per candidate list, not one per candidate).
Ask = Callable[[Sequence[str]], Sequence[str]]


def filter_candidates(
    candidates: Sequence[T],
    ask: Ask,
    *,
    content_id: Callable[[T], str] = str,
    limit: int | None = None,
) -> list[T]:
    """``candidates`` (best first) whose verdict is ``eligible``, in their order, at most
    ``limit``. Anything else is dropped, ``unknown`` included: content Consentry never saw has
    no consent on record."""
    ids = [content_id(c) for c in candidates]
    codes = ask(ids) if ids else []
    if len(codes) != len(ids):
        raise ValueError(f"asked {len(ids)} verdicts, got {len(codes)}")
    kept = [c for c, code in zip(candidates, codes, strict=True) if code == ELIGIBLE]
    return kept if limit is None else kept[:limit]
