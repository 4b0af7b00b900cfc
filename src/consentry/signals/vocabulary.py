"""What every vocabulary a platform publishes choices in must say: its field names and, for
one account's choice, its value. The registry (``consentry.signals.registry``) lists them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from consentry.signals.config import Search


@dataclass(frozen=True, slots=True)
class Choice:
    """One account's choice as the vocabularies see it (``consentry.signals.state``)."""

    train: bool
    answer: bool
    search: Search = "unstated"


class Vocabulary(Protocol):
    #: Short name, the key of the API's JSON.
    name: str
    #: The specification followed, by name and version.
    spec: str
    #: The HTTP response header field it is sent in, or None.
    header: str | None
    #: The robots.txt rule name it is written as, or None.
    robots: str | None

    def value(self, choice: Choice) -> str:
        """The field's value for ``choice``."""
        ...
