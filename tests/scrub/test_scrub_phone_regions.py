"""A number written with ``+`` and a known country code is validated once for every default
region: ``phonenumbers`` must give it the same verdict in each."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.scrub.detectors.phones import (
    DEFAULT_REGIONS,
    PhoneValidator,
    _has_country_code,
    _is_valid,
)


def test_country_code_is_recognised_only_when_phonenumbers_would_use_it() -> None:
    assert _has_country_code("+33 6 12 34 56 78")
    assert _has_country_code("(+44) 20 7946 0958")
    assert not _has_country_code("+0 062-620-469613")  # no country code starts with 0
    assert not _has_country_code("+999 123 456 789")  # unassigned: parsed as national
    assert not _has_country_code("06 12 34 56 78")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["+", "(+", "+ "]),
    st.sampled_from(["1", "33", "44", "49", "7", "86", "262", "352", "590", "3", "8"]),
    st.sampled_from(["", " ", ")", "(0)", ") "]),
    st.text("0123456789", min_size=6, max_size=12),
    st.sampled_from(["", " ", "-", "."]),
)
def test_international_numbers_get_one_verdict_whatever_the_region(
    plus: str, code: str, after: str, digits: str, sep: str
) -> None:
    text = plus + code + after + sep.join([digits[:3], digits[3:6], digits[6:]])
    if _has_country_code(text):
        assert len({_is_valid(text, region) for region in DEFAULT_REGIONS}) == 1


def test_validator_still_finds_international_and_national_numbers() -> None:
    validate = PhoneValidator()
    assert validate("+33 6 12 34 56 78") == [(0, 17)]
    assert validate("+1 (415) 555-2671") == [(0, 17)]
    assert validate("06 12 34 56 78") == [(0, 14)]


def test_a_rejected_number_leaves_no_reference_cycle_holding_its_callers() -> None:
    """phonenumbers keeps the exception it handles in a local of ``parse`` (a cycle through
    that frame); frames hold their callers, so the scrubber's whole batch would wait for the
    cyclic garbage collector after each rejected number."""
    import gc
    import weakref

    from consentry.scrub.detectors.phones import PhoneValidator

    class Payload:
        pass

    validator = PhoneValidator()

    def caller(text: str) -> weakref.ref[Payload]:
        payload = Payload()
        validator(text)  # "+999…": no such country code, parsed again without "+", rejected
        return weakref.ref(payload)

    gc.collect()
    gc.disable()
    try:
        ref = caller("+999 6123 4567 8901")
        assert ref() is None
    finally:
        gc.enable()


def _phonenumbers_says(text: str, region: str) -> bool:
    import phonenumbers

    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(text, region)))
    except phonenumbers.NumberParseException:
        return False


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(["+", "(+", "\uff0b", "+0", "+00", "+011", "+0033", "+00 44", "+999"]),
    digits=st.text("0123456789 ", min_size=6, max_size=16),
    region=st.sampled_from(["FR", "US", "GB", "DE"]),
)
def test_numbers_after_a_plus_get_phonenumbers_own_verdict(
    prefix: str, digits: str, region: str
) -> None:
    from consentry.scrub.detectors.phones import _is_valid

    text = prefix + digits
    assert _is_valid.__wrapped__(text, region) == _phonenumbers_says(text, region)


def test_a_number_kept_after_an_unknown_code_leaves_no_reference_cycle() -> None:
    """``+0033…`` in France: phonenumbers recovers from its own exception (the cycle) and keeps
    the number; asked the same way without the plus, it forms none."""
    import gc
    import weakref

    from consentry.scrub.detectors.phones import _is_valid

    class Payload:
        pass

    def caller() -> tuple[bool, weakref.ref[Payload]]:
        payload = Payload()
        return _is_valid.__wrapped__("+0033 6 12 34 56 78", "FR"), weakref.ref(payload)

    gc.collect()
    gc.disable()
    try:
        valid, ref = caller()
        assert valid and ref() is None
    finally:
        gc.enable()


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789 .-()/+", min_size=1, max_size=24))
def test_re2_and_python_read_the_never_a_phone_layouts_alike(candidate: str) -> None:
    """``NOT_A_PHONE`` drops whole candidates in RE2 and windows in Python: one rule, two
    engines, which must agree."""
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    from consentry.scrub.detectors.phones import NOT_A_PHONE

    by_re2 = pc.match_substring_regex(pa.array([candidate]), NOT_A_PHONE)[0].as_py()
    assert by_re2 == bool(re.match(NOT_A_PHONE, candidate))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.text("0123456789", min_size=1, max_size=5), st.sampled_from(list(" -./()"))),
        min_size=2,
        max_size=6,
    ),
    st.sampled_from(["", "+", "0", "00", "(0"]),
)
def test_every_phone_found_matches_the_prefilter(groups: list[tuple[str, str]], head: str) -> None:
    """The scrubber skips rows the prefilter does not fire on: each number the validator
    keeps must match it, or a text with only that number would keep it."""
    import re

    from consentry.scrub.detectors.phones import PREFILTER

    candidate = head + "".join(g + sep for g, sep in groups).rstrip(" -./(")
    for start, end in PhoneValidator()(candidate):
        assert re.search(PREFILTER, candidate[start:end]), candidate[start:end]
