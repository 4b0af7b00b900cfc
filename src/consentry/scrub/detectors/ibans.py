"""IBANs: country code, two check digits, then 11–30 letters or digits, in groups or not.

Validated as ISO 13616 defines an IBAN, with ``stdnum.iban``: the ISO 7064 mod-97 check and
the country's BBAN length and format, but not the national check digits some countries add
inside the BBAN (Spain's, Belgium's…). For scrubbing, a string that passes the IBAN standard's
own check is an account number whatever its national digits say: being stricter than the
standard would only let some through.

The RE2 pattern wants the printed grouping (blocks of four) or none, and may still run on into
the following word (``FR76 … 189 merci`` looks like one more group), so the validator tries the
longest valid prefix, from every place in the candidate an IBAN may start.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Final

from stdnum import iban

from consentry.scrub.registry import RegexDetector

_MIN_LENGTH: Final = 15  # Norway: NO + 2 check digits + 11


_START: Final = re.compile(r"(?:^|(?<=[ \-]))[A-Za-z]{2}\d{2}")


def _mod97_holds(compact: str) -> list[bool]:
    """For each prefix of ``compact`` (letters and digits), by length: whether ISO 7064
    mod 97-10 holds for it as an IBAN (its first four characters moved to its end, letters as
    10–35). By hand on purpose: it is only a cheap first test, so that the prefixes tried
    reach ``stdnum`` (country formats) only when the checksum already holds, about one time in
    97 for a wrong one; and the remainders of every prefix come from one pass, where one
    conversion per prefix made a candidate's cost grow with the square of its length."""
    holds = [False] * (len(compact) + 1)
    if len(compact) < 4 or not (compact[:4].isalnum() and compact[:4].isascii()):
        return holds
    head = "".join(str(int(c, 36)) for c in compact[:4])
    shift, tail = pow(10, len(head), 97), int(head) % 97
    remainder = 0
    for length in range(5, len(compact) + 1):
        c = compact[length - 1]
        if not (c.isascii() and c.isalnum()):
            break  # neither this prefix nor a longer one is an IBAN
        digits = str(int(c, 36))
        remainder = (remainder * 10 ** len(digits) + int(digits)) % 97
        holds[length] = (remainder * shift + tail) % 97 == 1
    return holds


@functools.lru_cache(maxsize=4096)
def _is_iban(compact: str) -> bool:
    """``compact`` (whose mod 97-10 holds) is an IBAN by its country's format."""
    try:
        iban.validate(compact, check_country=False)
    except ValueError:  # stdnum's ValidationError derives from it
        return False
    return True


def _longest_valid_prefix(text: str) -> int:
    # Each character of the text that is not a separator, and where it ends in the text.
    kept = [(c, i + 1) for i, c in enumerate(text) if c not in " -"]
    # One character each (a non-ASCII one, never in an IBAN, stays as it is: "ß".upper() is
    # two characters).
    compact = "".join(c.upper() if c.isascii() else c for c, _ in kept)
    holds = _mod97_holds(compact)
    for length in range(len(compact), 0, -1):
        end = kept[length - 1][1]  # the prefix of the text ending on this character
        if end < _MIN_LENGTH:
            break
        if holds[length] and _is_iban(compact[:length]):
            return end
    return 0


def validate_iban(candidate: str) -> Sequence[tuple[int, int]]:
    """The IBANs in a candidate: from each place an IBAN may start (the candidate's start, or
    after a separator, since "JO20 24…" may open a run that holds the real one further on),
    the longest prefix that validates."""
    out: list[tuple[int, int]] = []
    pos = 0
    for m in _START.finditer(candidate):
        if m.start() < pos:
            continue
        length = _longest_valid_prefix(candidate[m.start() :])
        if length:
            out.append((m.start(), m.start() + length))
            pos = m.start() + length
    return out


IBANS: Final = RegexDetector(
    name="iban",
    type="iban",
    prefilter="[A-Za-z]{2}\\d{2}[ \\-]?[A-Za-z0-9]{4}",
    # Groups of four (the printed form), or none: "JO2024 to and…" is not the start of one.
    body="[A-Za-z]{2}\\d{2}(?:[ \\-]?[A-Za-z0-9]{4}){2,7}(?:[ \\-]?[A-Za-z0-9]{1,3})?",
    validate=validate_iban,
)
