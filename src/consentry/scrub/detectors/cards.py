"""Payment card numbers: 12–19 digits, optionally grouped by single spaces or hyphens.

A candidate is a card when its digits pass the Luhn check (``stdnum.luhn``) *and* start like a
card of a known network with a length that network issues: a random 16-digit number passes Luhn
one time in ten, so the issuer ranges are what keep order numbers and ids out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from stdnum import luhn

from consentry.scrub.detectors.blocks import joins_blocks
from consentry.scrub.registry import RegexDetector

#: (lowest prefix, highest prefix, allowed lengths): Visa, Mastercard, Amex, Discover, JCB
#: (with its old 15-digit 1800 and 2131), Diners, UnionPay, Maestro (12 digits and up).
#: Prefixes compare as integers of the same number of digits. Only Visa issues 13 digits:
#: a 13-digit run from another range is an EAN-13 barcode far more often than a card.
_MAESTRO: Final = frozenset({12, *range(14, 20)})
_NETWORKS: Final = (
    ("4", "4", frozenset({13, 16, 19})),
    ("1800", "1800", frozenset({15})),
    ("2131", "2131", frozenset({15})),
    ("51", "55", frozenset({16})),
    ("2221", "2720", frozenset({16})),
    ("34", "34", frozenset({15})),
    ("37", "37", frozenset({15})),
    ("6011", "6011", frozenset(range(16, 20))),
    ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),
    ("35", "35", frozenset(range(16, 20))),
    ("300", "305", frozenset(range(14, 20))),
    ("36", "36", frozenset(range(14, 20))),
    ("38", "39", frozenset(range(14, 20))),
    ("62", "62", frozenset(range(16, 20))),
    ("50", "50", _MAESTRO),
    ("56", "59", _MAESTRO),
    ("60", "69", _MAESTRO),
)


_GROUP: Final = re.compile(r"\d+")


#: The networks by their first digit (a network's range never spans two).
_BY_FIRST_DIGIT: Final = {
    d: tuple(n for n in _NETWORKS if n[0][0] == d) for d in {low[0] for low, _, _ in _NETWORKS}
}


def looks_issued(digits: str) -> bool:
    for low, high, lengths in _BY_FIRST_DIGIT.get(digits[:1], ()):
        if len(digits) in lengths and low <= digits[: len(low)] <= high:
            return True
    return False


def _is_card(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")  # the only separators a candidate has
    return looks_issued(digits) and luhn.is_valid(digits)


def validate_card(candidate: str) -> Sequence[tuple[int, int]]:
    """The whole candidate, or else the longest run of its groups that is a card: a number
    just before it ("score 3-1 4111 1111 1111 1111") makes the candidate start too early."""
    if _is_card(candidate):
        return [(0, len(candidate))]
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(candidate)]
    before = [0]  # digits in the groups before each one
    for start, end in groups:
        before.append(before[-1] + end - start)
    for i in range(len(groups)):
        if joins_blocks(candidate, groups, i - 1):
            continue
        for j in range(len(groups) - 1, i - 1, -1):
            digits = before[j + 1] - before[i]
            if digits < 12:
                break
            if digits > 19 or joins_blocks(candidate, groups, j):
                continue
            if _is_card(candidate[groups[i][0] : groups[j][1]]):
                return [(groups[i][0], groups[j][1])]
    return []


CARDS: Final = RegexDetector(
    name="card",
    type="card",
    prefilter="\\d(?:[ \\-]?\\d){11}",
    before="^|[^A-Za-z0-9_.,/\\-+]",
    body="\\d(?:[ \\-]?\\d){11,}",  # unbounded: the validator finds the card in a longer run
    reject_after="^(?:[A-Za-z0-9_]|[.,/\\-]\\d)",
    validate=validate_card,
)
