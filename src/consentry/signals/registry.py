"""The vocabularies Consentry publishes choices in, in the order they are written."""

from __future__ import annotations

from typing import Final

from consentry.signals.aipref import Aipref
from consentry.signals.config import Search
from consentry.signals.content_signal import ContentSignal
from consentry.signals.tdmrep import Tdmrep
from consentry.signals.vocabulary import Choice, Vocabulary

VOCABULARIES: Final[tuple[Vocabulary, ...]] = (Aipref(), ContentSignal(), Tdmrep())

#: The four choices an account can make about ``train`` and ``answer``, by their code in
#: ``SignalState.combo`` (``train + 2 * answer``).
COMBOS: Final = ((False, False), (True, False), (False, True), (True, True))


def choices_by_combo(search: Search) -> tuple[Choice, ...]:
    return tuple(Choice(train, answer, search) for train, answer in COMBOS)


def values(choice: Choice) -> dict[str, str]:
    """Each vocabulary's value for ``choice``, by its name."""
    return {v.name: v.value(choice) for v in VOCABULARIES}


def headers(choice: Choice) -> list[tuple[str, str]]:
    """The HTTP response headers that say ``choice``."""
    return [(v.header, v.value(choice)) for v in VOCABULARIES if v.header is not None]
