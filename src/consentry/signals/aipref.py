"""IETF AIPREF: the vocabulary of draft-ietf-aipref-vocab-08, attached as
draft-ietf-aipref-attach-05 says: an HTTP ``Content-Usage`` field whose value is an RFC 9651
dictionary of tokens ``y``/``n``, and robots.txt ``Content-Usage:`` rules (with an optional
path) inside a user-agent group.

``train-ai`` says the choice of ``train``; ``train-genai`` sits under it in the vocabulary's
hierarchy and follows it unstated. The vocabulary has no category for grounding an assistant's
answers, so ``answer`` is not said here (Content Signals' ``ai-input`` says it).
"""

from __future__ import annotations

from typing import Final

from consentry.signals.vocabulary import Choice

TRAIN_AI: Final = "train-ai"
SEARCH: Final = "search"


def _yn(value: bool) -> str:
    return "y" if value else "n"


class Aipref:
    name = "content_usage"
    spec = "draft-ietf-aipref-vocab-08, draft-ietf-aipref-attach-05"
    header: str | None = "Content-Usage"
    robots: str | None = "Content-Usage"

    def value(self, choice: Choice) -> str:
        parts = [f"{TRAIN_AI}={_yn(choice.train)}"]
        if choice.search != "unstated":
            parts.append(f"{SEARCH}={choice.search}")
        return ", ".join(parts)
