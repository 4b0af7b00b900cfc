"""The phone detector's verdict on one number in one region is ``phonenumbers``' own: parse,
then ``is_valid_number`` (the oracle, called here directly), whatever the detector keeps or
reuses between calls. Numbers are written the ways that reach that verdict: with ``00`` (read
in every region), with a plus, nationally; the regions include the default list's."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.scrub.detectors import phones

# Every default region: their international prefixes differ (00, 011 in North America, 0011
# and carrier codes in Australia and Brazil, 001 in Thailand, several in Korea, 810 in Russia).
REGIONS = st.sampled_from([*phones.DEFAULT_REGIONS, "CI", "SM"])
# Codes of one region and of many, non-geographic ones, and codes no plan has (28, 999).
CODES = st.sampled_from(
    ["1", "33", "39", "44", "49", "55", "81", "225", "378", "800", "979", "28", "999"]
)


def oracle(text: str, region: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(text, region)))
    except phonenumbers.NumberParseException:
        return False


@st.composite
def written(draw: st.DrawFn) -> str:
    lead = draw(st.sampled_from(["00", "+", "0", "", "0011 ", "001-", "0015", "00700"]))
    code = draw(CODES) if lead in ("00", "+", "0011 ", "001-", "0015", "00700") else ""
    # Italian-style leading zeros, short and long numbers, separators.
    body = draw(st.from_regex(r"0{0,2}[0-9]{4,11}", fullmatch=True))
    sep = draw(st.sampled_from(["", " ", "-"]))
    # Separators inside the number too (``001-555-123-4567``), sometimes a second 0 after 00.
    cut = draw(st.integers(0, len(body)))
    inner = draw(st.sampled_from(["", " ", "-", ".", ") ", "/"]))
    return f"{lead}{code}{sep}{body[:cut]}{inner}{body[cut:]}"


@settings(max_examples=400)
@given(written(), REGIONS)
def test_a_verdict_is_phonenumbers(text: str, region: str) -> None:
    assert phones._is_valid.__wrapped__(text, region) == oracle(text, region)


@settings(max_examples=100)
@given(written(), st.lists(REGIONS, min_size=2, max_size=6))
def test_a_verdict_is_the_same_asked_again_in_other_regions(text: str, regions: list[str]) -> None:
    # Asked in region after region (what a number written with 00 is), verdicts reused
    # between regions stay each region's own.
    assert [phones._is_valid(text, r) for r in regions] == [oracle(text, r) for r in regions]


@settings(max_examples=200)
@given(st.from_regex(r"00[1-9][0-9]{2}-[0-9]{3}-[0-9]{3}-[0-9]{4}", fullmatch=True))
def test_a_number_dialled_abroad_is_read_in_every_region_as_phonenumbers_reads_it(
    text: str,
) -> None:
    # What the detector asks of a number written with 00: each default region in turn (each
    # strips its own international prefix, or none, and reads what is left).
    regions = phones.DEFAULT_REGIONS
    assert [phones._is_valid(text, r) for r in regions] == [oracle(text, r) for r in regions]


def test_valid_numbers_of_real_plans_are_found() -> None:
    # Examples phonenumbers ships for its regions, written with 00 and read from France.
    for region in ("US", "DE", "IT", "BR", "JP"):
        example = phonenumbers.example_number(region)
        assert example is not None
        text = "00" + phonenumbers.format_number(
            example, phonenumbers.PhoneNumberFormat.E164
        ).lstrip("+")
        assert phones._is_valid(text, "FR") == oracle(text, "FR") is True, text


@settings(max_examples=600, deadline=None)
@given(
    digits=st.from_regex(r"00[0-9]{6,13}", fullmatch=True),
    region=REGIONS,
)
def test_a_national_reading_refused_without_parsing_is_one_phonenumbers_refuses(
    digits: str, region: str
) -> None:
    """``_may_be_national`` spares ``parse`` only where it could not find a valid number: of
    a number written with ``00`` that the region does not read as dialled abroad, whatever it
    refuses, ``phonenumbers`` refuses too (its oracle, asked directly)."""
    if phones._after_idd(digits, region) is None and not phones._may_be_national(digits, region):
        assert not oracle(digits, region)


def test_a_national_reading_of_another_countrys_number_is_refused_without_parsing() -> None:
    # 001 and a North American number: international in France (00), national in the US
    # (011), where no reading of it fits a North American plan.
    assert not phones._may_be_national("0012125550123", "US")
    assert not oracle("001-212-555-0123", "US")
    # What could be the region's own is left to parse: a trunk prefix and a number.
    assert phones._may_be_national("0612345678", "FR")
