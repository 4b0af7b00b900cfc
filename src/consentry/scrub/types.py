"""The kinds of personal data the scrubber knows, their placeholders, and one detected span.

Type names are the ones of the demo platform's ground truth (``ground_truth.jsonl``) and of the
snapshot's ``pii`` column, so that evaluation and manifests speak the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Every type, in the order ``pii`` lists them and counts are reported.
PII_TYPES: Final = (
    "handle",
    "url",
    "email",
    "phone",
    "iban",
    "card",
    "ip",
    "name",
    "hashtag",
    "cashtag",
)
TYPE_CODE: Final = {name: code for code, name in enumerate(PII_TYPES)}

#: Detected so that other detectors do not claim their text, but never replaced: topics and
#: tickers are not personal data, and they carry much of a post's meaning.
KEPT_TYPES: Final = frozenset({"hashtag", "cashtag"})

#: What a replaced span becomes. Handles are special: a platform account's handle becomes
#: ``@`` + that account's pseudonym (see ``MentionResolver``); any other becomes ``@<USER>``.
PLACEHOLDERS: Final = {
    "handle": "@<USER>",
    "url": "<URL>",
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "iban": "<IBAN>",
    "card": "<CARD>",
    "ip": "<IP>",
    "name": "<NAME>",
}


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """One detection in one text: ``text[start:end]`` in code points (Python string indices)."""

    start: int
    end: int
    type: str
    value: str
