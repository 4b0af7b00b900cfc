"""Phone numbers, checked against ``phonenumbers``' metadata (Google's libphonenumber).

RE2 finds runs of at least eight digits in phone-like layout: an optional ``+`` or opening
parenthesis, then digits with at most three separators (space, dot, hyphen, parentheses,
slash) between them, and perhaps an extension (``x905``, ``ext. 12``), as in
``06 12 34 56 78``, ``+46 (0)8 704 655 72``, ``0316/49539646`` or ``475-661-2500x905``.

Each run is then read the ways a number can be written, and kept when one reading is a valid
number (issue 15: texts of many countries, most without a country code):

* international: ``+`` or ``00`` and a country code, or a code in parentheses (``(351) 969
  141 777``);
* national, in each of the default regions (dozens: a platform may narrow them to its
  markets, most likely first), as that region writes its numbers: after its trunk prefix
  (``0``, ``8`` in Russia, ``06`` in Hungary, ``1`` in North America), in North American
  layout (``(415) 555-2671``), or, where no trunk prefix is written (Poland, Norway, Brazil…),
  grouped by spaces or hyphens (``609 141 777``).

Validity is the region's plan itself (its lengths and the patterns of its number types),
indexed by trunk prefix and length so that a candidate meets only the few regions it could
belong to; ``phonenumbers.parse`` (~50 µs a call) is left to the rare readings that need it.
Bare digit runs count only with a trunk ``0`` at a phone's length (``0612345678``): without it
(``612345678``, ``2126404738``) they are ids far more often than phones. Dates, ISBNs, dotted
versions, amounts and times are refused by their layout. A run refused whole (two numbers in a
row, a number and a date) is retried by windows of whole groups cut at white space, never
between two four-digit blocks (a tracking number's).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import traceback
from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    CountryCodeSource,
    PhoneMetadata,
    PhoneNumber,
)

from consentry.scrub.detectors.blocks import joins_blocks
from consentry.scrub.found import Int64s
from consentry.scrub.registry import RegexDetector
from consentry.string_bytes import StringBytes

_GROUP: Final = re.compile(r"\+?\(?\d[\d()]*")
_MAX_DIGITS: Final = 15  # E.164
_MIN_LENGTH_FOR_NSN: Final = 2  # ``parse``'s: no national number is shorter than this
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
    if text.startswith("00"):
        after_idd = _after_idd(text, region)
        if after_idd is not None:
            return _valid_after_idd(after_idd)
        # Read as a national number here: parsed only if it may be valid so.
        if _IDD_SHAPED.fullmatch(text) and not _may_be_national(
            text.translate(_NOT_DIGITS), region
        ):
            return False
    number = _parse(text, region)
    return number is not None and _valid_number(
        number.country_code,
        number.national_number,
        bool(number.italian_leading_zero),
        number.number_of_leading_zeros or 1,
    )


# A candidate written with ``00`` is read in every region, and each region whose international
# prefix is ``00`` parses it to the same number: ``is_valid_number``, ~3x the cost of the parse
# (it tries each region of the country code), is then asked once per number, not per region.
# Its verdict depends on these fields alone (the national significant number and its code).
@functools.lru_cache(maxsize=1024)
def _valid_number(code: int | None, national: int | None, italian_zero: bool, zeros: int) -> bool:
    number = PhoneNumber(
        country_code=code,
        national_number=national,
        italian_leading_zero=italian_zero or None,
        number_of_leading_zeros=zeros if italian_zero else None,
    )
    return bool(phonenumbers.is_valid_number(number))


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


#: What a number written with its international prefix may hold besides digits, for
#: ``_after_idd`` to read it as ``parse`` does (anything else goes to ``parse`` itself).
_IDD_SHAPED: Final = re.compile(r"00[0-9 .()/-]*[0-9]")


@functools.cache
def _idd_prefix(region: str) -> re.Pattern[str] | None:
    metadata = PhoneMetadata.metadata_for_region(region)
    prefix = None if metadata is None else metadata.international_prefix
    return None if prefix is None else re.compile(prefix)


def _after_idd(text: str, region: str) -> str | None:
    """The digits after the region's international prefix when ``parse`` reads ``text`` in
    ``region`` as dialled from there to another country (``00``, ``0011``, ``001`` and
    carrier codes…), or None when it reads it otherwise.

    A number written with ``00`` is read in every default region; most have ``00`` for
    prefix and so read the same number, which ``_valid_after_idd`` then checks once, not once
    per region (``parse`` is ~50 µs). The steps are ``parse``'s own: the digits matched by the
    region's pattern at the start, kept only if a digit other than 0 follows."""
    if not _IDD_SHAPED.fullmatch(text):
        return None
    idd = _idd_prefix(region)
    if idd is None:
        return None
    digits = text.translate(_NOT_DIGITS)
    match = idd.match(digits)
    if match is None:
        return None
    rest = digits[match.end() :]
    return None if rest.startswith("0") else rest


def _may_be_national(digits: str, region: str) -> bool:
    """False only where ``parse`` cannot read ``digits`` in ``region`` as a valid national
    number. A number written with ``00`` is read in every default region, and in each whose
    international prefix is not ``00``, as a national number, which is nearly never valid
    (``parse`` then cost ~50 µs a region: most of a phone-rich batch's time). ``parse`` takes
    for national number the digits, or what follows the region's country code at their start,
    either perhaps without what the region's trunk prefix pattern matches at its start
    (``national_prefix_for_parsing``: the prefix, a carrier code): a valid one fits the
    general pattern of a region of its country code. When none of those does, it is not
    valid. Regions whose trunk prefix is rewritten (``national_prefix_transform_rule``), not
    stripped, are always asked."""
    reading = _national_reading(region)
    if reading is None:
        return True
    code, prefix, general = reading
    options = [digits, digits[len(code) :]] if digits.startswith(code) else [digits]
    if prefix is not None:
        for option in list(options):
            match = prefix.match(option)
            if match is not None:
                options.append(option[match.end() :])
    return any(general.fullmatch(option) is not None for option in options)


@functools.cache
def _national_reading(region: str) -> tuple[str, re.Pattern[str] | None, re.Pattern[str]] | None:
    """``region``'s country code, trunk prefix pattern and the general pattern of every region
    of its country code (``_may_be_national``); None where they say nothing."""
    md = PhoneMetadata.metadata_for_region(region)
    if md is None or md.country_code is None or md.national_prefix_transform_rule is not None:
        return None
    generals: list[str] = []
    for other in COUNTRY_CODE_TO_REGION_CODE.get(md.country_code, ()):
        peer = PhoneMetadata.metadata_for_region(other)
        general = None if peer is None else peer.general_desc
        if peer is None or general is None or general.national_number_pattern is None:
            return None
        generals.append(f"(?:{general.national_number_pattern})")
    if not generals:
        return None
    prefix = md.national_prefix_for_parsing or md.national_prefix
    return (
        str(md.country_code),
        None if not prefix else re.compile(prefix),
        re.compile("|".join(generals)),
    )


@functools.lru_cache(maxsize=1024)
def _valid_after_idd(rest: str) -> bool:
    """``parse`` and ``is_valid_number`` of a number dialled abroad, ``rest`` being the digits
    after the international prefix: as written with ``+``, except that an unknown country
    code makes it invalid (``parse`` retries without the prefix only after a ``+``), and so
    does a number too short after the prefix."""
    if len(rest) <= _MIN_LENGTH_FOR_NSN or not any(
        int(rest[:n]) in COUNTRY_CODE_TO_REGION_CODE for n in (1, 2, 3) if n <= len(rest)
    ):
        return False
    verdict = _valid_international(rest)
    return _is_valid("+" + rest, "ZZ") if verdict is None else verdict


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
#: Dates (2024-07-26, 26.07.2024, 07/26/2024): eight digits, laid out like some numbers.
_DAY: Final = "(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH: Final = "(?:0?[1-9]|1[0-2])"
_DATES: Final = "|".join(
    f"[0-9]{{4}}{s}{_MONTH}{s}{_DAY}|{_DAY}{s}{_MONTH}{s}[0-9]{{4}}|{_MONTH}{s}{_DAY}{s}[0-9]{{4}}"
    for s in ("\\.", "/", "-")
)
#: Layouts that are never a phone, in RE2's syntax and Python's alike: RE2 drops whole
#: candidates with it (vectorised, before any Python), Python the windows tried in a run.
#: Bare digits (no separator) are ids far more often than phones, unless written with the
#: trunk prefix 0 at a phone's usual length, 9 to 12 digits (0612345678, 01169285241; not
#: an EAN-8 or EAN-13 barcode's); dates; long dotted versions (06.12.34.56.78.90); IPv4
#: addresses' four groups of at most three digits; ISBNs (hyphenated groups ending in the
#: single check digit: 0-306-40615-2, 978-3-16-148410-0); and runs of four or more
#: four-digit blocks (tracking numbers), which no window may cut anyway (``joins_blocks``).
NOT_A_PHONE: Final = (
    "^\\(?(?:[1-9][0-9]*|0[0-9]{0,7}|0[0-9]{12,}"
    f"|{_DATES}"
    "|\\+?[0-9]+(?:\\.[0-9]+){5,}"
    "|[0-9]{1,3}(?:\\.[0-9]{1,3}){3}"
    "|(?:97[89]-)?[0-9]{1,5}-[0-9]+-[0-9]+-[0-9]"
    "|[0-9]{4}(?: [0-9]{4}){3,}(?: [0-9]{1,3})?"
    "|[0-9]{4}(?:-[0-9]{4}){3,}(?:-[0-9]{1,3})?"
    ")\\)?$"
)
_NOT_A_PHONE: Final = re.compile(NOT_A_PHONE)
#: A date among the groups ("No. 485 (1966-12-15)"): what holds one is not one number.
_HOLDS_A_DATE: Final = re.compile(f"(?:^|\\s)\\(?(?:{_DATES})\\)?(?:\\s|$)")
#: An extension after the number: 475-661-2500x905, 212 555 0100 ext. 12.
_EXTENSION: Final = re.compile(r" ?(?:x|ext\.? ?)\d{1,6}$", re.IGNORECASE)
_EXTENSION_RE2: Final = r"(?i) ?(?:x|ext\.? ?)\d{1,6}$"
#: "(351) 969 141 777": a country code in parentheses, without the plus.
_PAREN_CODE: Final = re.compile(r"^\(([1-9]\d{0,2})\) ?")
_SEPARATOR: Final = re.compile(r"\d[ .\-()/]+\d")


#: Regions tried for national numbers, in order: France, the US, the UK and Germany first (the
#: defaults before issue 15), then ~60 countries of Europe, the Americas, the Middle East,
#: Africa, Asia and Oceania (Presidio's own list among them). A platform that knows its
#: markets passes its own, most likely first: fewer regions, fewer numbers of elsewhere that
#: an id or a code could pass for.
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


_TYPES: Final = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


@functools.cache
def _pattern(source: str) -> re.Pattern[str]:
    """A plan's pattern, compiled when first used: compiling the default regions' plans costs
    ~0.3 CPU-s, which a process that only names the detectors (the build's own, while its
    workers scrub) need not pay. ``warm`` compiles them where processes are forked from."""
    return re.compile(source)


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """A region's numbering plan, from ``phonenumbers``' metadata: its trunk prefix, its
    national numbers (the general pattern and lengths) and the patterns of its types."""

    prefix: str
    general: str  # the national number pattern
    lengths: frozenset[int]  # possible lengths (none: any)
    types: str  # the alternation of every type's pattern
    bare: bool  # numbers are written without the trunk prefix

    def valid(self, national: str) -> bool:
        """What ``phonenumbers.is_valid_number_for_region`` says of this national number
        (the general description fits, and one type's pattern does), without building a
        number. Types are tried as one alternation: their own lengths are nearly always the
        general ones, and their patterns spell out their lengths anyway."""
        return (
            (not self.lengths or len(national) in self.lengths)
            and _pattern(self.general).fullmatch(national) is not None
            and _pattern(self.types).fullmatch(national) is not None
        )


@functools.cache
def _plan(region: str) -> _Plan | None:
    md = PhoneMetadata.metadata_for_region(region)
    general = None if md is None else md.general_desc
    if md is None or general is None or general.national_number_pattern is None:
        return None
    patterns = [getattr(md, t) for t in _TYPES]
    types = "|".join(
        f"(?:{d.national_number_pattern})"
        for d in patterns
        if d is not None and d.national_number_pattern is not None
    )
    return _Plan(
        prefix=md.national_prefix or "",
        general=general.national_number_pattern,
        lengths=frozenset(general.possible_length or ()),
        types=types or "(?!)",
        bare=md.national_prefix is None or region in _NO_TRUNK_WRITTEN,
    )


def warm(regions: Sequence[str] = DEFAULT_REGIONS) -> None:
    """Compile the plans of ``regions`` now (before a process forks the ones that scrub), and
    load ``phonenumbers``' metadata of every region: it loads a region's when first asked,
    which each worker did again (~0.15 CPU-s each; all at once here: ~0.05)."""
    phonenumbers.PhoneMetadata.load_all()
    for region in regions:
        plan = _plan(region)
        if plan is not None:
            _pattern(plan.general), _pattern(plan.types)


def _valid_international(digits: str) -> bool | None:
    """Country code and national number (perhaps with its trunk prefix, as in ``+33 (0)6…``)
    valid in one of the code's regions; None when that takes ``phonenumbers`` itself (a
    non-geographic code, or a code it does not know)."""
    for n in (1, 2, 3):
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:n]))
        if regions is None:
            continue
        national = digits[n:]
        plans = [_plan(r) for r in regions]
        if any(p is None for p in plans):
            return None
        for plan in plans:
            assert plan is not None
            if plan.valid(national) or (
                plan.prefix
                and national.startswith(plan.prefix)
                and plan.valid(national[len(plan.prefix) :])
            ):
                return True
        return False
    return None


#: Everything but digits that the RE2 pattern lets into a candidate.
_NOT_DIGITS: Final = str.maketrans("", "", " .-()/+xXext")


def _digits_if_phone_shaped(text: str, *, laid_out: bool = False) -> str | None:
    """The digits of ``text`` if it may be a phone number at all, whatever the region.
    ``laid_out``: RE2 refused the layouts of ``NOT_A_PHONE`` in ``text`` already (the
    detector's ``reject_value``, on whole candidates), which Python need not do again."""
    digits = text.translate(_NOT_DIGITS)
    if not 8 <= len(digits) <= _MAX_DIGITS or text.count("/") > 1:
        return None
    if not laid_out and _NOT_A_PHONE.match(text):
        return None
    if " " in text and _HOLDS_A_DATE.search(text):
        return None
    return digits


#: One reading of a candidate: (rank of its region, region, text, national number). The
#: region ``_INTERNATIONAL`` reads the national number as country code and number; an empty
#: national number leaves the verdict to ``phonenumbers.parse``.
_Reading = tuple[int, str, str, str]
_INTERNATIONAL: Final = "+"


class _Shelf:
    """The regions (rank, region, plan) whose national numbers have one length, in rank
    order, with one regex for them all: its first alternative to match is the best region
    a number fits, found in one C-level match where a Python loop over the regions took a
    few microseconds each."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str, _Plan]] = []
        self._any: re.Pattern[str] | None = None

    def add(self, rank: int, region: str, plan: _Plan) -> None:
        self.entries.append((rank, region, plan))
        self._any = None

    @property
    def any(self) -> re.Pattern[str]:
        """Matches (whole) the national numbers valid in one of the shelf's regions."""
        if self._any is None:
            # Each alternative is one region's plan: its general pattern (a lookahead to the
            # end) and its types. Lengths need no check: the shelf holds one of each plan's.
            self._any = re.compile(
                "|".join(
                    f"(?P<r{i}>(?=(?:{p.general})\\Z)(?:{p.types}))"
                    for i, (_, _, p) in enumerate(self.entries)
                )
            )
        return self._any

    def first(self, national: str) -> tuple[int, str] | None:
        """(rank, region) of the first region where ``national`` is valid, if any."""
        m = self.any.fullmatch(national)
        if m is None or m.lastgroup is None:
            return None
        # The alternatives' groups are the outermost, and the only named ones (metadata
        # patterns name none): the last group to close is the one that matched.
        rank, region, _ = self.entries[int(m.lastgroup[1:])]
        return rank, region


_PatternFor = Callable[[int], "re.Pattern[str] | None"]


def _shelf_pattern(shelves: dict[int, _Shelf]) -> _PatternFor:
    """The pattern of the shelf for a national number's length, if there is one."""

    def pattern_for(length: int) -> re.Pattern[str] | None:
        shelf = shelves.get(length)
        return None if shelf is None else shelf.any

    return pattern_for


_CODES: Final = np.array(sorted(COUNTRY_CODE_TO_REGION_CODE), dtype=np.int64)


@functools.cache
def _international(code: int, length: int) -> re.Pattern[str] | None:
    """Matches (whole) the national numbers of ``length`` digits that ``_valid_international``
    takes after country code ``code``; None where it leaves the verdict to ``phonenumbers``."""
    plans = [_plan(r) for r in COUNTRY_CODE_TO_REGION_CODE[code]]
    alternatives = []
    for plan in plans:
        if plan is None:
            return None
        body = f"(?=(?:{plan.general})\\Z)(?:{plan.types})"
        if not plan.lengths or length in plan.lengths:
            alternatives.append(body)
        rest = length - len(plan.prefix)
        if plan.prefix and (not plan.lengths or rest in plan.lengths):
            alternatives.append(re.escape(plan.prefix) + body)
    return re.compile("|".join(f"(?:{a})" for a in alternatives) or "(?!)")


class PhoneValidator:
    """Callable validator bound to default regions (tried in order for national numbers).

    Each region's plan is indexed by (trunk prefix as written, national number length), so a
    candidate is checked only in the few regions whose plan it fits, and against their
    metadata directly: ``phonenumbers.parse`` costs ~50 µs a call, and number-rich text has
    several candidates a sentence."""

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS) -> None:
        self.regions = tuple(regions)
        self._trunk: dict[tuple[str, int], _Shelf] = {}
        self._nanp: dict[int, _Shelf] = {}  # North American layout, no trunk prefix
        self._grouped: dict[int, _Shelf] = {}  # no trunk prefix written, grouped
        for rank, region in enumerate(self.regions):
            plan = _plan(region)
            if plan is None:
                continue
            for length in plan.lengths:
                if plan.prefix:
                    self._trunk.setdefault((plan.prefix, length), _Shelf()).add(rank, region, plan)
                if region in _NANP_REGIONS:
                    self._nanp.setdefault(length, _Shelf()).add(rank, region, plan)
                elif plan.bare:
                    self._grouped.setdefault(length, _Shelf()).add(rank, region, plan)
        self._prefixes = sorted({prefix for prefix, _ in self._trunk})
        self._window_heads = frozenset("+(0" + "".join(p[0] for p in self._prefixes))
        # What every run holding a window worth reading has (``_by_windows``): a head at its
        # start or after a space, and eight digits from there on. RE2 tells it for the batch;
        # most runs refused whole (card blocks, a date and a figure) lack it, and reading
        # their windows in Python was a third of the detector's time on number-rich text.
        heads = "".join(sorted("\\" + c if c in "\\]^-" else c for c in self._window_heads))
        self._may_hold_window = f"(?:^| )[{heads}][^0-9]*(?:[0-9][^0-9]*){{7}}"

    def _readings(self, text: str, digits: str, *, bare: bool = True) -> list[_Reading]:
        """The readings of ``text`` (phone-shaped, with these ``digits``) worth a check, in
        region order; without ``bare``, none of a number with no trunk prefix nor country
        code (``609 141 777``), the weakest evidence of a phone."""
        if _after_plus(text) is not None:
            # ``_has_country_code``, with the digits at hand.
            if digits[0] != "0" and any(
                int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE for n in (1, 2, 3)
            ):
                return [(0, _INTERNATIONAL, text, digits)]
            return [(0, self.regions[0], text, "")]
        if text.startswith("00"):
            return [(rank, region, text, "") for rank, region in enumerate(self.regions)]
        out: list[_Reading] = []
        paren = _PAREN_CODE.match(text)
        if paren is not None and int(paren[1]) in COUNTRY_CODE_TO_REGION_CODE:
            out.append((-1, _INTERNATIONAL, text, digits))
        for prefix in self._prefixes:
            if digits.startswith(prefix):
                national = digits[len(prefix) :]
                self._add_first(out, self._trunk.get((prefix, len(national))), text, national)
        if bare:
            if _NANP.match(text):
                self._add_first(out, self._nanp.get(len(digits)), text, digits)
            # Dots without a trunk prefix: versions (4.18.40.8059), dates, not phones.
            if "." not in text and _SEPARATOR.search(text):
                self._add_first(out, self._grouped.get(len(digits)), text, digits)
        out.sort()
        return out

    @staticmethod
    def _add_first(out: list[_Reading], shelf: _Shelf | None, text: str, national: str) -> None:
        """The reading in the shelf's first region that ``national`` is valid in: one per
        shelf is enough, the verdict being the same and the others ranking after it."""
        found = None if shelf is None else shelf.first(national)
        if found is not None:
            out.append((found[0], found[1], text, national))

    def _verdict(self, reading: _Reading) -> bool:
        _, region, text, national = reading
        if region == _INTERNATIONAL:
            verdict = _valid_international(national)
            return _is_valid(text, self.regions[0]) if verdict is None else verdict
        # National readings were checked against their region's plan already.
        return bool(national) or _is_valid(text, region)

    def __call__(self, candidate: str) -> Sequence[tuple[int, int]]:
        ext = _EXTENSION.search(candidate)
        number = candidate if ext is None else candidate[: ext.start()]
        # Most candidates are one number and nothing else: check it whole first.
        digits = _digits_if_phone_shaped(number, laid_out=ext is None)
        if digits is not None and any(map(self._verdict, self._readings(number, digits))):
            return [(0, len(candidate))]
        return self._by_windows(number)

    def batch(self, values: pa.StringArray) -> tuple[Int64s, Int64s, Int64s]:
        """``self(value)`` for every candidate of a batch, as a batch validator. The common
        candidate (no extension, no country code, no ``00``) is read whole in columns: its
        layout checked by RE2 and numpy, its national numbers matched shelf by shelf, so that
        Python calls one regex per reading. The others, and the windows of a refused run with
        spaces, take ``self``'s path."""
        n = len(values)
        if n == 0:
            z = np.zeros(0, dtype=np.int64)
            return z, z, z
        texts = values.to_pylist()
        value_bytes = StringBytes.of(values)
        data, offsets = value_bytes.data, value_bytes.offsets
        lengths = np.diff(offsets)

        def per_text(mask: npt.NDArray[np.bool_]) -> Int64s:
            ahead = np.r_[0, np.cumsum(mask, dtype=np.int64)]
            counts: Int64s = ahead[offsets[1:]] - ahead[offsets[:-1]]
            return counts

        def matches(pattern: str) -> npt.NDArray[np.bool_]:
            hit = pc.match_substring_regex(values, pattern)
            return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=np.bool_)

        is_digit = (data >= 48) & (data <= 57)
        n_digits = per_text(is_digit)
        head = data[offsets[:-1]]
        second = data[np.minimum(offsets[:-1] + 1, len(data) - 1)]
        digit_text = pa.StringArray.from_buffers(
            n,
            pa.py_buffer(np.r_[0, np.cumsum(n_digits)].astype(np.int32)),
            pa.py_buffer(data[is_digit]),
        )
        starts_00 = (head == 48) & (second == 48) & (lengths > 1)
        ext = matches(_EXTENSION_RE2)
        plus = head == ord("+")
        common = ~(
            plus
            | ((head == ord("(")) & (second == ord("+")))
            | starts_00
            | ext
            | matches(_PAREN_CODE.pattern)
        )
        has_space = per_text(data == ord(" ")) > 0
        laid_out = (
            (n_digits >= 8)
            & (n_digits <= _MAX_DIGITS)
            & (per_text(data == ord("/")) <= 1)
            & ~(has_space & matches(_HOLDS_A_DATE.pattern))
        )
        shaped = common & laid_out
        ok = np.zeros(n, dtype=np.bool_)
        digits = digit_text.to_pylist()
        no_dot = per_text(data == ord(".")) == 0
        # (which candidates, digits cut off, the pattern for a national number's length):
        # one per reading.
        none_cut = np.zeros(n, dtype=np.int64)
        ask: list[tuple[npt.NDArray[np.bool_], Int64s, _PatternFor]] = [
            (shaped & matches(_NANP.pattern), none_cut, _shelf_pattern(self._nanp)),
            (
                shaped & no_dot & matches(_SEPARATOR.pattern),
                none_cut,
                _shelf_pattern(self._grouped),
            ),
        ]
        for prefix in self._prefixes:
            begins = shaped & pc.starts_with(digit_text, prefix).to_numpy(zero_copy_only=False)
            shelves = {length: shelf for (p, length), shelf in self._trunk.items() if p == prefix}
            ask.append((begins, np.full(n, len(prefix)), _shelf_pattern(shelves)))
        # "+", a country code and its national number: the code is the first one to three
        # digits that are one (``_valid_international``).
        values_of_digits = data[is_digit].astype(np.int64) - 48
        first = np.r_[0, np.cumsum(n_digits)[:-1]]
        d0, d1, d2 = (
            values_of_digits[np.minimum(first + k, len(values_of_digits) - 1)] for k in range(3)
        )
        codes = (d0, d0 * 10 + d1, d0 * 100 + d1 * 10 + d2)
        cut = np.select([np.isin(c, _CODES) for c in codes], [1, 2, 3], 0)
        code = np.choose(np.maximum(cut - 1, 0), codes)
        intl = plus & ~ext & laid_out & (d0 != 0) & (cut > 0) & (n_digits >= 3)
        resolved = np.zeros(n, dtype=np.bool_)
        for country in np.unique(code[intl]).tolist():
            rows_of = intl & (code == country)
            of_country: _PatternFor = functools.partial(_international, country)
            if all(
                of_country(length) is not None
                for length in np.unique(n_digits[rows_of] - cut[rows_of]).tolist()
            ):
                resolved |= rows_of
                ask.append((rows_of, cut, of_country))
        for mask, cuts, pattern_for in ask:
            rows = np.flatnonzero(mask & ~ok)
            if len(rows) == 0:
                continue
            lengths_of = n_digits[rows] - cuts[rows]
            for length in np.unique(lengths_of).tolist():
                pattern = pattern_for(length)
                if pattern is None:
                    continue
                at = rows[lengths_of == length]
                fits = pattern.fullmatch
                ok[at] = [fits(digits[i][cuts[i] :]) is not None for i in at.tolist()]
        idx: list[int] = []
        rel_start: list[int] = []
        rel_end: list[int] = []
        read = common | resolved
        again = ~read | (~ok & has_space)
        if (again & read).any():
            again &= ~read | matches(self._may_hold_window)
        for i in np.flatnonzero(again).tolist():
            spans = self._by_windows(texts[i]) if read[i] else self(texts[i])
            for a, b in spans:
                idx.append(i)
                rel_start.append(a)
                rel_end.append(b)
        whole = np.flatnonzero(ok)
        order = np.argsort(np.r_[whole, np.array(idx, dtype=np.int64)], kind="stable")
        return (
            np.r_[whole, np.array(idx, dtype=np.int64)][order],
            np.r_[np.zeros(len(whole), dtype=np.int64), np.array(rel_start, dtype=np.int64)][order],
            np.r_[lengths[whole], np.array(rel_end, dtype=np.int64)][order],
        )

    def _by_windows(self, candidate: str) -> list[tuple[int, int]]:
        if " " not in candidate:  # the only white space the RE2 pattern lets in
            return []  # one window only, the whole candidate, already refused
        groups = [(m.start(), m.end()) for m in _GROUP.finditer(candidate)]
        out: list[tuple[int, int]] = []
        i = 0
        while i < len(groups):
            best = None
            # A window is read only with a country code or trunk prefix (no ``bare``
            # readings): one starting otherwise has none, whatever its end.
            if (
                candidate[groups[i][0]] in self._window_heads
                and _space_before(candidate, groups[i][0])
                and not joins_blocks(candidate, groups, i - 1)
            ):
                # Regions in priority order, then the longest window: a French 06 12 34 56 78
                # followed by another number is not one long German number. Numbers with
                # neither trunk prefix nor country code count only as a whole candidate: cut
                # from a run, "3-1 02 81 97 77" would pass for one, and hide the French
                # 02 81 97 77 08 that follows the score.
                readings: list[tuple[int, int, _Reading]] = []
                for j in range(len(groups) - 1, i - 1, -1):
                    if not _space_after(candidate, groups[j][1]) or joins_blocks(
                        candidate, groups, j
                    ):
                        continue
                    text = candidate[groups[i][0] : groups[j][1]]
                    digits = _digits_if_phone_shaped(text)
                    if digits is not None:
                        readings.extend(
                            (r[0], -j, r) for r in self._readings(text, digits, bare=False)
                        )
                readings.sort()
                best = next((-j for _, j, r in readings if self._verdict(r)), None)
            if best is None:
                i += 1
            else:
                out.append((groups[i][0], groups[best][1]))
                i = best + 1
        return out


_SEP: Final = "[ .\\-()]"
#: Eight digits apart by at most three separators, a slash among them at most once: every
#: number kept has that (``_digits_if_phone_shaped``), and dates (15/01/2024), which posts
#: hold far more often than phones written with a slash, do not, so their rows skip the
#: detector. RE2 cannot count slashes: each place of the one slash is an alternative.
_DIGIT_ON: Final = f"{_SEP}{{0,3}}\\d"
PREFILTER: Final = "|".join(
    [f"\\d(?:{_DIGIT_ON}){{7}}"]
    + [
        f"\\d(?:{_DIGIT_ON}){{{k}}}{_SEP}{{0,2}}/{_SEP}{{0,2}}\\d(?:{_DIGIT_ON}){{{6 - k}}}"
        for k in range(7)
    ]
)


def phone_detector(regions: Sequence[str] = DEFAULT_REGIONS, name: str = "phone") -> RegexDetector:
    return RegexDetector(
        name=name,
        type="phone",
        prefilter=PREFILTER,
        # Not inside a word, an id, a URL path or a hashtag; "+" belongs to the number.
        # ASCII classes: Unicode ones cost milliseconds to compile, on every batch.
        before="^|[^A-Za-z0-9_+/@#$&=\\-.]",
        body="(?:\\+\\(?|\\(\\+?)?\\d(?:[ .\\-()/]{0,3}\\d){7,}(?: ?(?:[xX]|ext\\.? ?)\\d{1,6})?",
        # Not glued to a word, a decimal, a time, a path or an ISBN's check digit; not an
        # amount ("12 500 000 €").
        reject_after="^(?:[A-Za-z_@]|[.,/]\\d|:[0-9A-Fa-f]|-[0-9A-Za-z]| ?[€$£¥])",
        reject_value=NOT_A_PHONE,
        validate_batch=PhoneValidator(regions).batch,
    )


PHONES: Final = phone_detector()
