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


def _mod97_ok(compact: str) -> bool:
    """ISO 7064 mod 97-10, by hand on purpose: it is only a cheap first test, so that the
    prefixes tried reach ``stdnum`` (country formats, and a module import per call) only
    when the checksum already holds, about one time in 97 for a wrong one."""
    if not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


@functools.lru_cache(maxsize=4096)
def _is_iban(compact: str) -> bool:
    if not _mod97_ok(compact):
        return False
    try:
        iban.validate(compact, check_country=False)
    except ValueError:  # stdnum's ValidationError derives from it
        return False
    return True


def _longest_valid_prefix(text: str) -> int:
    end = len(text)
    while end >= _MIN_LENGTH:
        part = text[:end]
        if part[-1] not in " -" and _is_iban(part.replace(" ", "").replace("-", "").upper()):
            return end
        end -= 1
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
