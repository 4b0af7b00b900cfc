"""Phone numbers, validated by ``phonenumbers`` (Google's libphonenumber, in Python).

RE2 finds runs of at least eight digits in phone-like layout: an optional ``+`` or opening
parenthesis, then digits with at most three separators (space, dot, hyphen, parentheses)
between them, as in ``06 12 34 56 78``, ``+33 (0)6 12 34 56 78`` or ``+1 (415) 555-2671``.
``phonenumbers`` then parses and validates the run, for the configured default regions
(the national formats of France, the United States, the United Kingdom and Germany by default:
a platform sets its own markets) and for any international number written with ``+`` or
``00``. A run it rejects as a whole (two numbers in a row, a number and a date) is retried by
windows of whole groups cut at white space: each window starting on a group that
begins with ``+``, ``00`` or the trunk ``0`` is parsed and kept when valid. Numbers written
without trunk prefix nor country code (``612345678``) are not accepted: in text those are far
more often ids than phones.
"""

from __future__ import annotations

import functools
import re
import traceback
from collections.abc import Sequence
from typing import Final

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, CountryCodeSource, PhoneNumber

from consentry.scrub.registry import RegexDetector

DEFAULT_REGIONS: Final = ("FR", "US", "GB", "DE")
_GROUP: Final = re.compile(r"\+?\(?\d[\d()]*")
_MAX_DIGITS: Final = 15  # E.164
_PLUS_SIGNS: Final = ("+", "\uff0b")


def _digit_count(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _space_before(text: str, i: int) -> bool:
    """Windows split a run only at white space: 06.12.34.56.78.90 is one thing, not a phone."""
    return i == 0 or text[i - 1].isspace()


def _space_after(text: str, i: int) -> bool:
    return i == len(text) or text[i].isspace()


def _plausible_start(text: str) -> bool:
    """International (+, 00) or national with a trunk 0, as written."""
    stripped = text.lstrip("(")
    return stripped.startswith(("+", "0"))


# Small: its use is one candidate asked for several regions in a row. Distinct numbers rarely
# repeat across a platform (a 10M-post build: 72 hits for 26,135 misses), and a 65,536-entry
# cache held ~13 MB by the end of a large build for nothing.
@functools.lru_cache(maxsize=1024)
def _is_valid(text: str, region: str) -> bool:
    stripped = _after_plus(text)
    if stripped is not None and not _has_country_code(text):
        return _valid_after_unknown_code(stripped, region)
    number = _parse(text, region)
    return number is not None and phonenumbers.is_valid_number(number)


def _parse(text: str, region: str, *, keep_raw_input: bool = False) -> PhoneNumber | None:
    """``phonenumbers.parse``, None where it refuses the text.

    ``parse`` keeps the exception it handles in a local (``sys.exc_info()``): a cycle through
    its frame, and frames hold their callers. Each rejected number kept the scrubber's whole
    batch alive until the cyclic collector ran: memory crept by ~15 MB per 16k-record chunk
    between collections, and the records pass's peak grew with the platform. Clearing the
    traceback's frames breaks the cycle."""
    try:
        return phonenumbers.parse(text, region, keep_raw_input=keep_raw_input)
    except phonenumbers.NumberParseException as exc:
        traceback.clear_frames(exc.__traceback__)
        return None


def _after_plus(text: str) -> str | None:
    """The text with its leading plus sign removed, or None if it has none."""
    body = text.lstrip("(")
    if not body.startswith(_PLUS_SIGNS):
        return None
    return text[: len(text) - len(body)] + body[1:]


def _valid_after_unknown_code(stripped: str, region: str) -> bool:
    """What ``parse`` decides for ``+`` and a code it does not know (``stripped``: the text
    without the plus), without the cycle.

    ``parse`` handles that case by catching its own exception (the cycle of ``_parse``) and
    trying again without the plus, where it keeps the number only if the region's
    international prefix follows (``+0033 6…`` in France); a success then leaves the cycle
    with no exception for us to clear. Asked without the plus, it takes the same path, and
    says where the country code came from."""
    number = _parse(stripped, region, keep_raw_input=True)
    if number is None or number.country_code_source != CountryCodeSource.FROM_NUMBER_WITH_IDD:
        return False
    return bool(phonenumbers.is_valid_number(number))


def _has_country_code(text: str) -> bool:
    """Written ``+`` and a country code ``phonenumbers`` knows. (After ``+`` and an unknown
    code, see ``_valid_after_unknown_code``.)"""
    if _after_plus(text) is None:
        return False
    digits = "".join(c for c in text if c.isdigit())
    if not digits or digits[0] == "0":
        return False
    return any(int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE for n in (1, 2, 3))


#: North American numbers are written without trunk prefix: (415) 555-2671, 415-555-2671.
_NANP: Final = re.compile(r"^\(?\d{3}\)?[ .\-]?\d{3}[ .\-]\d{4}$")
_NANP_REGIONS: Final = frozenset({"US", "CA"})
_DOTTED: Final = re.compile(r"^\+?\d+(?:\.\d+)+$")


class PhoneValidator:
    """Callable validator bound to default regions (tried in order for national numbers)."""

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS) -> None:
        self.regions = tuple(regions)
        self._nanp = bool(_NANP_REGIONS & set(self.regions))

    def _valid_in(self, text: str, region: str) -> bool:
        if _has_country_code(text):
            # The default region plays no part in parsing it: every region shares one cached
            # answer (a rejected number was parsed, and rejected, once per region).
            region = self.regions[0]
        return 8 <= _digit_count(text) <= _MAX_DIGITS and _is_valid(text, region)

    def _valid(self, text: str) -> bool:
        return any(self._valid_in(text, r) for r in self.regions)

    def _plausible(self, text: str) -> bool:
        if _DOTTED.match(text) and text.count(".") > 4:
            return False  # 06.12.34.56.78.90.12: a version or an id, not a dotted French number
        return _plausible_start(text) or (self._nanp and bool(_NANP.match(text)))

    def __call__(self, candidate: str) -> Sequence[tuple[int, int]]:
        # Most candidates are one number and nothing else: parse it whole first.
        if self._plausible(candidate) and self._valid(candidate):
            return [(0, len(candidate))]
        return self._by_windows(candidate)

    def _by_windows(self, candidate: str) -> list[tuple[int, int]]:
        groups = [(m.start(), m.end()) for m in _GROUP.finditer(candidate)]
        out: list[tuple[int, int]] = []
        i = 0
        while i < len(groups):
            best = None
            if _space_before(candidate, groups[i][0]):
                # Regions in priority order, then the longest window: a French 06 12 34 56 78
                # followed by another number is not one long German number.
                for region in self.regions:
                    for j in range(len(groups) - 1, i - 1, -1):
                        text = candidate[groups[i][0] : groups[j][1]]
                        if (
                            self._plausible(text)
                            and _space_after(candidate, groups[j][1])
                            and self._valid_in(text, region)
                        ):
                            best = j
                            break
                    if best is not None:
                        break
            if best is None:
                i += 1
            else:
                out.append((groups[i][0], groups[best][1]))
                i = best + 1
        return out


def phone_detector(regions: Sequence[str] = DEFAULT_REGIONS, name: str = "phone") -> RegexDetector:
    return RegexDetector(
        name=name,
        type="phone",
        prefilter="\\d(?:[ .\\-()]{0,3}\\d){7}",
        # Not inside a word, an id, a URL path or a hashtag; "+" belongs to the number.
        # ASCII classes: Unicode ones cost milliseconds to compile, on every batch.
        before="^|[^A-Za-z0-9_+/@#$&=\\-.]",
        body="(?:\\+|\\(\\+?)?\\d(?:[ .\\-()]{0,3}\\d){7,}",
        reject_after="^(?:[A-Za-z_@]|[.,/]\\d)",
        validate=PhoneValidator(regions),
    )


PHONES: Final = phone_detector()
