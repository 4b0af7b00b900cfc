"""``find_body`` (whole-match marking, no capture groups) finds what Python's ``re`` finds."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.scrub.detectors import BUILTIN
from consentry.scrub.marking import find_all, find_body, takes_body
from consentry.scrub.registry import RegexDetector

# (before, body): valid for RE2 and Python alike. The body may start with a character the
# before class also takes ("(", "é"), the case where a match at a row's start is ambiguous.
CASES = [
    ("", "[a-z]+@[a-z]+"),
    ("^|[^A-Za-z0-9_]", "\\(?[0-9](?:[ .\\-]?[0-9]){3,}"),
    ("^|[^0-9]", "[(é]?[0-9]+"),
    ("^|[^a-z]", "é?[a-z]{2}"),
]
ALPHABET = [*"0123456789 .-()aézé@x_\n", "€", "😀", "\u00a0"]
texts_st = st.lists(
    st.one_of(st.none(), st.text(alphabet=st.sampled_from(ALPHABET), max_size=30)),
    min_size=1,
    max_size=6,
)


def python_matches(texts: list[str | None], before: str, body: str) -> list[tuple[int, ...]]:
    """(row, start, end, bstart, bend) of each match, by ``re.finditer``: the oracle."""
    pattern = re.compile(f"({before})({body})")
    out: list[tuple[int, ...]] = []
    for row, text in enumerate(texts):
        for m in re.finditer(pattern, text or ""):
            s, e = m.span(2)
            out.append((row, s, e, len(m.string[:s].encode()), len(m.string[:e].encode())))
    return out


@pytest.mark.parametrize(("before", "body"), CASES)
@settings(max_examples=150, deadline=None)
@given(texts=texts_st)
def test_find_body_matches_python(before: str, body: str, texts: list[str | None]) -> None:
    m = find_body(pa.array(texts, pa.string()), body, before)
    got = list(
        zip(
            m.rows.tolist(),
            m.start.tolist(),
            m.end.tolist(),
            m.bstart.tolist(),
            m.bend.tolist(),
            strict=True,
        )
    )
    assert got == python_matches(texts, before, body)
    assert m.values.to_pylist() == [(texts[r] or "")[s:e] for r, s, e, _, _ in got]


DETECTORS = [d for d in BUILTIN if isinstance(d, RegexDetector) and takes_body(d.before)]
DETECTOR_ALPHABET = [*"0123456789 .-()/+:xX@_aAfF\n", "é", "＠", "€"]


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.name)
@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(
        st.text(alphabet=st.sampled_from(DETECTOR_ALPHABET), max_size=40), min_size=1, max_size=6
    )
)
def test_find_body_agrees_with_find_all(detector: RegexDetector, texts: list[str]) -> None:
    arr = pa.array(texts, pa.string())
    a = find_all(arr, detector.pattern)
    b = find_body(arr, detector.body, detector.before)
    for column in ("rows", "start", "end", "bstart", "bend"):
        assert getattr(a, column).tolist() == getattr(b, column).tolist(), column
    assert a.values.to_pylist() == b.values.to_pylist()
    assert a.after.to_pylist() == b.after.to_pylist()


def test_find_body_refuses_a_longer_before() -> None:
    assert not takes_body("^|[^a-z]|rt:?")
    with pytest.raises(ValueError, match="find_all"):
        find_body(pa.array(["x"]), "x", "^|[^a-z]|rt:?")
