"""A labelled PII evaluation set the project did not tune to: Faker's data in many locales.

    .venv/bin/python -m benchmarks.pii_eval_set --texts 5000 --out /tmp/pii_eval.jsonl

Issue 15: the scrubber had only been measured on the formats our own demo plants. Here the
values come from Faker's providers (not ``platform/demo``): phone numbers of every locale Faker
lays out itself (most written without a country code: ``052 948 46 74``, ``+46 (0)8 704 655
72``, ``475-661-2500x905``), cards of every brand Faker issues (12 to 19 digits, Luhn-valid,
bare or grouped by spaces or hyphens), IBANs, IPv4/IPv6 addresses and e-mail addresses. Each is
set in a short sentence in English, French, German or Spanish, beside numbers that are *not*
personal data and must survive: dates, times, prices, scores, years, order numbers, versions,
ISBNs, EAN barcodes and parcel tracking numbers.

A phone number is labelled only when ``phonenumbers`` calls it valid in the locale's country:
Faker fills layouts with random digits, and a string no numbering plan assigns is not a phone
number anyone has, so no detector should be asked to find it.

Seeded: the same ``--seed`` and ``--texts`` give the same file. One JSON object a line::

    {"id": "0", "locale": "de_CH", "text": "…",
     "spans": [{"type": "phone", "start": 12, "end": 25, "value": "052 948 46 74"}]}

with code-point offsets.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

import phonenumbers
from faker import Faker

from consentry.scrub.evaluate import PlantedSpan

#: Locales whose phone provider has its own layouts (many fall back to en_US's), by country.
PHONE_LOCALES: Final = (
    "am_ET",
    "ar_AE",
    "ar_DZ",
    "ar_JO",
    "az_AZ",
    "bg_BG",
    "bs_BA",
    "cs_CZ",
    "da_DK",
    "de_AT",
    "de_CH",
    "de_DE",
    "el_GR",
    "en_AU",
    "en_CA",
    "en_GB",
    "en_IN",
    "en_NZ",
    "en_US",
    "es_AR",
    "es_CL",
    "es_CO",
    "es_ES",
    "es_MX",
    "fa_IR",
    "fi_FI",
    "fr_CH",
    "fr_FR",
    "he_IL",
    "hr_HR",
    "hu_HU",
    "hy_AM",
    "id_ID",
    "it_IT",
    "ja_JP",
    "ka_GE",
    "ko_KR",
    "lt_LT",
    "lv_LV",
    "mk_MK",
    "ne_NP",
    "nl_BE",
    "nl_NL",
    "no_NO",
    "pl_PL",
    "pt_BR",
    "pt_PT",
    "ro_RO",
    "ru_RU",
    "sk_SK",
    "sl_SI",
    "sv_SE",
    "th_TH",
    "tr_TR",
    "tw_GH",
    "uk_UA",
    "uz_UZ",
    "vi_VN",
    "zh_CN",
    "zh_TW",
)
CARD_TYPES: Final = (
    "amex",
    "diners",
    "discover",
    "jcb15",
    "jcb16",
    "maestro",
    "mastercard",
    "visa13",
    "visa16",
    "visa19",
)
IBAN_LOCALES: Final = ("de_DE", "fr_FR", "en_GB", "nl_NL", "it_IT", "es_ES", "pl_PL", "pt_PT")

#: Sentences with one slot for the labelled value ({}) and one for a number that is not
#: personal data ({n}).
TEMPLATES: Final = (
    "Call me at {} before {n}, thanks!",
    "My number is {} if anything changes ({n}).",
    "You can reach the front desk on {}. Opening hours changed on {n}.",
    "Ruf mich unter {} an, am besten nach {n}.",
    "Appelle-moi au {} — on dit {n} ?",
    "Llámame al {}, el pedido es {n}.",
    "{} is the only contact I have. Ref {n}",
    "New contact for the club: {}; meeting {n}.",
    "pls send it to {} asap, total was {n}",
    "Kontakt: {} (seit {n})",
    "Paid with {} on {n}, still no refund.",
    "Mon adresse : {}. Colis {n}.",
    "Server {} went down at {n} again.",
    "Überweisung bitte auf {}, Betrag {n}.",
    "{}\n{n}",
)
#: Sentences holding only numbers that are not personal data.
NEGATIVE_TEMPLATES: Final = (
    "Final score {n}, what a match.",
    "Released {n} today with the fixes from {m}.",
    "Order {n} shipped, arriving {m}.",
    "Das Treffen war am {n} um {m}.",
    "Prix : {n}, livraison le {m}.",
    "ISBN {n}, printed in {m}.",
    "Tracking {n} — estimated {m}.",
    "Room {n}, floor {m}.",
)


_EARLIEST: Final = datetime(1990, 1, 1)
_LATEST: Final = datetime(2030, 12, 31)


def _luhn_grouping(rng: random.Random, number: str) -> str:
    """Bare, or in the groups cards are printed in (4-6-5 for 15 digits, fours otherwise)."""
    style = rng.randrange(3)
    if style == 0:
        return number
    sep = " " if style == 1 else "-"
    if len(number) == 15:
        return sep.join((number[:4], number[4:10], number[10:]))
    if len(number) == 14:
        return sep.join((number[:4], number[4:10], number[10:]))
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def _not_pii(fake: Faker, rng: random.Random) -> str:
    def moment() -> datetime:
        # Fixed bounds: Faker's defaults end at the present, which would change the set.
        return fake.date_time_between(_EARLIEST, _LATEST)

    kinds: Sequence[Callable[[], str]] = (
        lambda: moment().strftime(rng.choice(("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y"))),
        lambda: moment().strftime(rng.choice(("%H:%M", "%H:%M:%S", "%Hh%M"))),
        lambda: rng.choice(("$", "€", "£")) + f"{rng.randint(1, 99999):,}.{rng.randint(0, 99):02d}",
        lambda: f"{rng.randint(1, 2_000_000):,} €".replace(",", " "),
        lambda: f"{rng.randint(0, 9)}-{rng.randint(0, 9)}",
        lambda: f"{rng.randint(50, 150)}:{rng.randint(50, 150)}",
        lambda: str(rng.randint(1900, 2035)),
        lambda: "#" + str(rng.randint(10_000_000, 9_999_999_999)),
        lambda: "order " + str(rng.randint(10_000_000, 99_999_999_999)),
        lambda: f"v{rng.randint(0, 30)}.{rng.randint(0, 40)}.{rng.randint(0, 200)}",
        lambda: (
            f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 9999)}"
        ),
        fake.isbn13,
        fake.isbn10,
        fake.ean13,
        fake.ean8,
        lambda: "1Z" + fake.bothify("???").upper() + fake.numerify("#" * 11),
        lambda: fake.numerify("94## #### #### #### #### ##"),
        lambda: moment().strftime("%-d.%-m.%Y %-H:%M"),
    )
    return rng.choice(kinds)()


@dataclass
class EvalText:
    id: str
    locale: str
    text: str
    spans: list[PlantedSpan] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "locale": self.locale,
            "text": self.text,
            "spans": [
                {"type": s.type, "start": s.start, "end": s.end, "value": s.value}
                for s in self.spans
            ],
        }


def _valid_phone(value: str, locale: str) -> bool:
    region = locale.split("_")[1]
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


class _Makers:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        self.seed = seed

    def faker(self, locale: str) -> Faker:
        if locale not in self.fakers:
            f = Faker(locale)
            f.seed_instance(self.seed + len(self.fakers))
            self.fakers[locale] = f
        return self.fakers[locale]

    def phone(self) -> tuple[str, str]:
        while True:
            locale = self.rng.choice(PHONE_LOCALES)
            value = self.faker(locale).phone_number()
            if _valid_phone(value, locale):
                return locale, value

    def card(self) -> tuple[str, str]:
        fake = self.faker("en_US")
        number = fake.credit_card_number(self.rng.choice(CARD_TYPES))
        return "en_US", _luhn_grouping(self.rng, number)

    def iban(self) -> tuple[str, str]:
        locale = self.rng.choice(IBAN_LOCALES)
        number = self.faker(locale).iban()
        if self.rng.random() < 0.5:
            number = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        return locale, number

    def ip(self) -> tuple[str, str]:
        fake = self.faker("en_US")
        return "en_US", fake.ipv4() if self.rng.random() < 0.7 else fake.ipv6()

    def email(self) -> tuple[str, str]:
        locale = self.rng.choice(("en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "pl_PL"))
        return locale, self.faker(locale).email()


TYPES: Final = ("phone", "card", "iban", "ip", "email")


def make_eval_set(n: int, seed: int = 15, negative_share: float = 0.25) -> Iterator[EvalText]:
    """``n`` texts: about ``negative_share`` of them hold no PII, the others one labelled
    value of a type drawn in turn (phones twice as often: they vary the most)."""
    makers = _Makers(seed)
    rng = makers.rng
    plan = ("phone", "phone", "card", "iban", "ip", "email")
    for i in range(n):
        negative = makers.faker("en_US")
        if rng.random() < negative_share:
            template = rng.choice(NEGATIVE_TEMPLATES)
            text = template.format(n=_not_pii(negative, rng), m=_not_pii(negative, rng))
            yield EvalText(str(i), "en_US", text)
            continue
        type_ = plan[i % len(plan)]
        locale, value = getattr(makers, type_)()
        template = rng.choice(TEMPLATES)
        head, tail = template.split("{}")
        head = head.format(n=_not_pii(negative, rng))
        tail = tail.format(n=_not_pii(negative, rng))
        span = PlantedSpan(str(i), type_, len(head), len(head) + len(value), value)
        yield EvalText(str(i), locale, head + value + tail, [span])


def read_eval_set(path: Path) -> Iterator[EvalText]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            spans = [
                PlantedSpan(str(row["id"]), s["type"], s["start"], s["end"], s["value"])
                for s in row["spans"]
            ]
            yield EvalText(str(row["id"]), str(row["locale"]), str(row["text"]), spans)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--texts", type=int, default=5000)
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    with args.out.open("w", encoding="utf-8") as f:
        for item in make_eval_set(args.texts, args.seed):
            f.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
