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

import dataclasses
import functools
import re
import traceback
from collections.abc import Sequence
from typing import Final

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, CountryCodeSource, PhoneMetadata, PhoneNumber
from stdnum import isbn

from consentry.scrub.detectors.blocks import joins_blocks
from consentry.scrub.registry import RegexDetector

_GROUP: Final = re.compile(r"\+?\(?\d[\d()]*")
_MAX_DIGITS: Final = 15  # E.164
_PLUS_SIGNS: Final = ("+", "\uff0b")


def _space_before(text: str, i: int) -> bool:
    """Windows split a run only at white space: 06.12.34.56.78.90 is one thing, not a phone."""
    return i == 0 or text[i - 1].isspace()


def _space_after(text: str, i: int) -> bool:
    return i == len(text) or text[i].isspace()


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
#: Dates (2024-07-26, 26.07.2024, 07/26/24): eight digits or more, laid out like some numbers.
_DATE: Final = re.compile(
    r"^(?:\d{1,2}([./\-])\d{1,2}\1(?:19|20)?\d\d|(?:19|20)\d\d([./\-])\d{1,2}\2\d{1,2})$"
)
#: An extension after the number: 475-661-2500x905, 212 555 0100 ext. 12.
_EXTENSION: Final = re.compile(r" ?(?:x|ext\.? ?)\d{1,6}$", re.IGNORECASE)
#: "(351) 969 141 777": a country code in parentheses, without the plus.
_PAREN_CODE: Final = re.compile(r"^\(([1-9]\d{0,2})\) ?")
_SEPARATOR: Final = re.compile(r"\d[ .\-()/]+\d")


def _bare_phone(digits: str) -> bool:
    """Bare digits (no separator) are ids far more often than phones, unless written with
    the trunk prefix 0 at a phone's usual length: 0612345678, 01169285241 (not an EAN-8 or
    EAN-13 barcode's)."""
    return digits.startswith("0") and 9 <= len(digits) <= 12


#: Regions tried for national numbers, in order: those of issue 15's locales (the country
#: of most of Faker's layouts, and Presidio's own list), the first four as before.
DEFAULT_REGIONS: Final = (
    "FR", "US", "GB", "DE", "CA", "AT", "CH", "BE", "NL", "LU", "IT", "ES", "PT", "IE",
    "DK", "NO", "SE", "FI", "PL", "CZ", "SK", "HU", "SI", "HR", "BA", "MK", "BG", "RO",
    "GR", "TR", "UA", "RU", "LT", "LV", "IL", "IN", "NP", "IR", "AE", "JO", "DZ", "ET",
    "GH", "AU", "NZ", "JP", "KR", "CN", "TW", "TH", "VN", "ID", "BR", "AR", "CL", "CO",
    "MX", "AM", "GE", "AZ", "UZ",
)  # fmt: skip
#: Regions whose own numbers are written without a trunk prefix in everyday text (no prefix
#: at all, or one nobody writes for mobiles): tried on grouped numbers that have none.
_NO_TRUNK_WRITTEN: Final = frozenset({"BR", "IN", "CN", "CO"})


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """What a region's numbering plan says before any parse: its trunk prefix, the lengths
    of its national numbers, and their pattern (all from ``phonenumbers``' metadata)."""

    prefix: str
    lengths: frozenset[int]
    pattern: re.Pattern[str]
    bare: bool  # numbers are written without the trunk prefix


@functools.cache
def _plan(region: str) -> _Plan | None:
    md = PhoneMetadata.metadata_for_region(region)
    if md is None or md.general_desc is None:
        return None
    desc = md.general_desc
    return _Plan(
        prefix=md.national_prefix or "",
        lengths=frozenset(desc.possible_length or ()),
        pattern=re.compile(desc.national_number_pattern or "\\d+"),
        bare=md.national_prefix is None or region in _NO_TRUNK_WRITTEN,
    )


def _shaped_like_something_else(text: str) -> bool:
    """Dates, ISBNs and long dotted versions: laid out like a phone, never one."""
    text = text.lstrip("(")
    if _DATE.match(text):
        return True
    if "-" in text and isbn.is_valid(text):
        return True
    return bool(_DOTTED.match(text) and text.count(".") > 4)


class PhoneValidator:
    """Callable validator bound to default regions (tried in order for national numbers)."""

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS) -> None:
        self.regions = tuple(regions)

    def _national_in(self, text: str, digits: str, region: str) -> bool:
        """A number written the way ``region``'s own are, and valid there."""
        plan = _plan(region)
        if plan is None:
            return False
        if plan.prefix and digits.startswith(plan.prefix):
            national = digits[len(plan.prefix) :]
        elif (region in _NANP_REGIONS and _NANP.match(text)) or (
            # Dots without a trunk prefix: versions (4.18.40.8059), dates, not phones.
            plan.bare and _SEPARATOR.search(text) and "." not in text
        ):
            national = digits
        else:
            return False
        # The metadata's lengths and pattern reject most candidates without a parse.
        if len(national) not in plan.lengths or not plan.pattern.fullmatch(national):
            return False
        return _is_valid(text, region)

    def _valid(self, text: str, regions: Sequence[str] | None = None) -> bool:
        digits = "".join(c for c in text if c.isdigit())
        if not 8 <= len(digits) <= _MAX_DIGITS or _shaped_like_something_else(text):
            return False
        international = _after_plus(text) is not None
        if not international and not _SEPARATOR.search(text) and not _bare_phone(digits):
            return False
        if international:
            # International: the default region plays no part in parsing it, so every region
            # shares one cached answer.
            return _is_valid(text, self.regions[0])
        if text.startswith("00"):
            return any(_is_valid(text, r) for r in regions or self.regions)
        paren = _PAREN_CODE.match(text)
        if paren is not None and int(paren[1]) in COUNTRY_CODE_TO_REGION_CODE:
            as_international = "+" + paren[1] + " " + text[paren.end() :]
            if _is_valid(as_international, self.regions[0]):
                return True
        return any(self._national_in(text, digits, r) for r in regions or self.regions)

    def __call__(self, candidate: str) -> Sequence[tuple[int, int]]:
        ext = _EXTENSION.search(candidate)
        number = candidate if ext is None else candidate[: ext.start()]
        # Most candidates are one number and nothing else: parse it whole first.
        if self._valid(number):
            return [(0, len(candidate))]
        return self._by_windows(number)

    def _by_windows(self, candidate: str) -> list[tuple[int, int]]:
        groups = [(m.start(), m.end()) for m in _GROUP.finditer(candidate)]
        out: list[tuple[int, int]] = []
        i = 0
        while i < len(groups):
            best = None
            if _space_before(candidate, groups[i][0]) and not joins_blocks(
                candidate, groups, i - 1
            ):
                # Regions in priority order, then the longest window: a French 06 12 34 56 78
                # followed by another number is not one long German number.
                for region in self.regions:
                    for j in range(len(groups) - 1, i - 1, -1):
                        text = candidate[groups[i][0] : groups[j][1]]
                        if (
                            _space_after(candidate, groups[j][1])
                            and not joins_blocks(candidate, groups, j)
                            and self._valid(text, (region,))
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
        prefilter="\\d(?:[ .\\-()/]{0,3}\\d){7}",
        # Not inside a word, an id, a URL path or a hashtag; "+" belongs to the number.
        # ASCII classes: Unicode ones cost milliseconds to compile, on every batch.
        before="^|[^A-Za-z0-9_+/@#$&=\\-.]",
        body="(?:\\+|\\(\\+?)?\\d(?:[ .\\-()/]{0,3}\\d){7,}(?: ?(?:[xX]|ext\\.? ?)\\d{1,6})?",
        # Not glued to a word, a decimal, a time, a path or an ISBN's check digit; not an
        # amount ("12 500 000 €").
        reject_after="^(?:[A-Za-z_@]|[.,/:]\\d|-[0-9A-Za-z]| ?[€$£¥])",
        validate=PhoneValidator(regions),
    )


PHONES: Final = phone_detector()
