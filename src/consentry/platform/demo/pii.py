"""Synthetic personal data that passes the checks real detectors apply.

IBANs carry valid mod-97 check digits (French ones a valid RIB key too), card numbers a valid
Luhn digit and a real scheme prefix, phone numbers follow their country's numbering plan
(mobile and landline ranges that ``phonenumbers`` accepts), in the spellings people type.
Every function draws from the ``random.Random`` it is given, so a seed gives the same values.
"""

from __future__ import annotations

import random
import string
from typing import Final

import phonenumbers


def luhn_digit(partial: str) -> str:
    """The check digit that makes ``partial + digit`` pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:  # doubled: these sit at odd positions once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return len(digits) >= 12 and total % 10 == 0


def _iban_numeric(text: str) -> int:
    return int("".join(str(int(c, 36)) for c in text))


def iban_check_digits(country: str, bban: str) -> str:
    return f"{98 - _iban_numeric(bban + country + '00') % 97:02d}"


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    if len(compact) < 15 or not compact[:2].isalpha():
        return False
    return _iban_numeric(compact[4:] + compact[:4]) % 97 == 1


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(string.digits, k=n))


def _fr_bban(rng: random.Random) -> str:
    bank, branch, account = _digits(rng, 5), _digits(rng, 5), _digits(rng, 11)
    key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
    return f"{bank}{branch}{account}{key:02d}"


def _de_bban(rng: random.Random) -> str:
    return _digits(rng, 8) + _digits(rng, 10)


def _gb_bban(rng: random.Random) -> str:
    bank = rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"])
    return bank + _digits(rng, 6) + _digits(rng, 8)


def _es_bban(rng: random.Random) -> str:
    return _digits(rng, 20)


_BBANS: Final = {"FR": _fr_bban, "DE": _de_bban, "GB": _gb_bban, "ES": _es_bban}


def iban(rng: random.Random, country: str | None = None) -> str:
    """An IBAN with valid check digits, grouped by four (as printed) two times out of three."""
    cc = country if country in _BBANS else rng.choice(["FR", "FR", "DE", "GB", "ES"])
    bban = _BBANS[cc](rng)
    compact = cc + iban_check_digits(cc, bban) + bban
    if rng.random() < 0.67:
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


_CARD_PREFIXES: Final = (("4", 16), ("51", 16), ("53", 16), ("55", 16), ("2221", 16))
_AMEX: Final = (("34", 15), ("37", 15))


def card(rng: random.Random) -> str:
    """A Luhn-valid card number (Visa, Mastercard, sometimes Amex), in a common spelling."""
    prefix, length = rng.choice(_AMEX) if rng.random() < 0.1 else rng.choice(_CARD_PREFIXES)
    partial = prefix + _digits(rng, length - len(prefix) - 1)
    number = partial + luhn_digit(partial)
    style = rng.random()
    if length == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
    if style < 0.5:
        return " ".join(groups)
    if style < 0.7:
        return "-".join(groups)
    return number


_US_AREAS: Final = ("212", "415", "646", "312", "617", "202", "305", "512", "206", "718")
_DE_MOBILE: Final = ("151", "152", "157", "160", "170", "171", "172", "176", "178", "179")
_CALLING_CODE: Final = {"FR": 33, "US": 1, "CA": 1, "GB": 44, "DE": 49}


def _national(rng: random.Random, cc: str) -> str:
    """Digits of a national significant number (no trunk 0) in a plausible range."""
    if cc == "FR":
        return rng.choice("6677123459") + _digits(rng, 8)
    if cc in ("US", "CA"):
        return rng.choice(_US_AREAS) + str(rng.randint(2, 9)) + _digits(rng, 6)
    if cc == "GB":
        return "7" + rng.choice("4579") + _digits(rng, 8)
    return rng.choice(_DE_MOBILE) + _digits(rng, rng.choice((7, 8)))


def _valid(cc: str, national: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=_CALLING_CODE[cc], national_number=int(national))
    return bool(phonenumbers.is_valid_number(number))


def phone(rng: random.Random, country: str | None = None) -> str:
    """A phone number valid in its country's plan (checked with ``phonenumbers``), in a national
    or international spelling people use."""
    cc = country if country in _CALLING_CODE else rng.choice(["FR", "FR", "US"])
    if country == "BE":
        cc = "FR"  # cross-border life: Belgian accounts quote French numbers
    national = _national(rng, cc)
    while not _valid(cc, national):
        national = _national(rng, cc)
    r = rng.random()
    if cc == "FR":
        pairs = " ".join(national[i : i + 2] for i in range(1, 9, 2))
        first = national[0]
        if r < 0.45:
            return f"0{first} {pairs}"
        if r < 0.6:
            return f"0{national}"
        if r < 0.75:
            return f"0{first}.{pairs.replace(' ', '.')}"
        if r < 0.9:
            return f"+33 {first} {pairs}"
        return f"+33{national}"
    if cc in ("US", "CA"):
        area, exchange, line = national[:3], national[3:6], national[6:]
        if r < 0.4:
            return f"({area}) {exchange}-{line}"
        if r < 0.7:
            return f"{area}-{exchange}-{line}"
        return f"+1 {area} {exchange} {line}"
    if cc == "GB":
        if r < 0.5:
            return f"0{national[:4]} {national[4:]}"
        return f"+44 {national[:4]} {national[4:]}"
    if r < 0.5:
        return f"0{national[:3]} {national[3:]}"
    return f"+49 {national[:3]} {national[3:]}"


def ip_address(rng: random.Random) -> str:
    """A public-looking IPv4 address, sometimes an IPv6 one."""
    if rng.random() < 0.15:
        groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(4)]
        return "2a01:" + ":".join(groups) + "::" + f"{rng.randint(1, 0xFFFF):x}"
    first = rng.choice([31, 37, 46, 62, 78, 81, 82, 88, 90, 92, 109, 176, 185, 193, 212, 217])
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
