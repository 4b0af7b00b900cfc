"""E-mail addresses: ``local@domain.tld``, where the last label is a real top-level domain.

RE2 only finds runs of characters around an ``@`` that could belong to an address (anything
but white space and the ASCII punctuation an address cannot hold). That class is written as a
negated ASCII set on purpose: a Unicode class (``\\pL``) would let RE2 tell letters apart
itself, but compiling one costs milliseconds on every batch. Python then reads the address out
of each candidate with Unicode-aware rules: the local part is the longest run of letters,
digits and ``._%+-`` before the ``@`` (leading dots dropped: ``...bob@x.com``); the domain is
labels of letters, digits and inner hyphens; and the last label must be a top-level domain,
labels being dropped from the right when a sentence runs on (``bob@example.com.Merci``).

The local part allows the characters people actually use: RFC 5322 allows more, but ``/``,
``=`` or ``'`` in a local part are rarer than the same characters glued to an address in a post.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from consentry.scrub.detectors.tlds import ALL_TLDS
from consentry.scrub.registry import RegexDetector

_NOT_IN_ADDRESS: Final = "\\s@<>()\\[\\]{},;:\"'`\\\\/|!?#*=&^~$"
_CHAR: Final = f"[^{_NOT_IN_ADDRESS}]"
_LOCAL_TAIL: Final = re.compile(r"[\w.%+\-]+\Z")
_DOMAIN: Final = re.compile(r"(?:[^\W_](?:[\w\-]*[^\W_])?\.)+[^\W_](?:[\w\-]*[^\W_])?")


def validate_email(candidate: str) -> Sequence[tuple[int, int]]:
    at = candidate.index("@")
    local = _LOCAL_TAIL.search(candidate, 0, at)
    if local is None:
        return []
    start = local.start()
    while start < at and candidate[start] == ".":
        start += 1
    domain = _DOMAIN.match(candidate, at + 1)
    if start >= at or domain is None:
        return []
    labels = domain[0].split(".")
    while len(labels) >= 2:
        if labels[-1].lower() in ALL_TLDS:
            return [(start, at + 1 + len(".".join(labels)))]
        labels.pop()
    return []


EMAILS: Final = RegexDetector(
    name="email",
    type="email",
    prefilter=f"{_CHAR}@{_CHAR}",
    needs="@",
    # Runs are maximal, so nothing needs to be said about what precedes one.
    before="",
    body=f"{_CHAR}+@{_CHAR}+",
    validate=validate_email,
)
