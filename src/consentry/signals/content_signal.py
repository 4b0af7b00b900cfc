"""Cloudflare's Content Signals (contentsignals.org; draft-romm-aipref-contentsignals-00): a
robots.txt ``Content-Signal:`` line of ``key=yes|no`` pairs, ``ai-train`` (training or
fine-tuning), ``ai-input`` (using the content as input to an AI answer: grounding, retrieval)
and ``search``. An unstated key expresses no preference, so ``search`` is left out unless the
platform says it."""

from __future__ import annotations

from consentry.signals.vocabulary import Choice


def _yes(value: bool) -> str:
    return "yes" if value else "no"


class ContentSignal:
    name = "content_signal"
    spec = "Cloudflare Content Signals Policy (draft-romm-aipref-contentsignals-00)"
    header: str | None = None
    robots: str | None = "Content-Signal"

    def value(self, choice: Choice) -> str:
        parts = [f"ai-train={_yes(choice.train)}", f"ai-input={_yes(choice.answer)}"]
        if choice.search != "unstated":
            parts.append(f"search={_yes(choice.search == 'y')}")
        return ", ".join(parts)
