"""``needs``: the characters a detector declares every text with a detection holds."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.scrub import detect_spans
from consentry.scrub.detectors import BUILTIN
from consentry.scrub.registry import Detector, needs

WITH_NEEDS = [d for d in BUILTIN if needs(d)]
ALPHABET = [*"0123456789 .-:/@#$_aAfFxzé\n", "＠", "＃", "€", "\u00a0"]
PIECES = ["a@b.fr", "@bob", "#JO", "$TSLA", "::1", "fe80::1", "1.2.3.4", "ex.com", "http://x.fr"]


def test_the_detectors_of_single_characters_declare_them() -> None:
    assert {d.name: needs(d) for d in WITH_NEEDS} == {
        "email": "@",
        "url": ".",
        "ipv4": ".",
        "ipv6": ":",
        "handle": "@＠",
        "hashtag": "#＃",
        "cashtag": "$",
    }


@pytest.mark.parametrize("detector", WITH_NEEDS, ids=lambda d: d.name)
@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(ALPHABET), st.sampled_from(PIECES)), max_size=12))
def test_a_detection_holds_a_needed_character(detector: Detector, parts: list[str]) -> None:
    text = "".join(parts)
    found = detector.find(pa.array([text], pa.string()))
    if len(found):
        assert any(c in text for c in needs(detector))


def test_rows_without_the_character_skip_the_detector_and_others_do_not() -> None:
    texts = ["mail a@b.fr", "rien", "ip fe80::1 et 2001:db8::1", "@bob et #JO $TSLA", None]
    spans = detect_spans(texts)
    assert [[s.type for s in row] for row in spans] == [
        ["email"],
        [],
        ["ip", "ip"],
        ["handle", "hashtag", "cashtag"],
        [],
    ]
