"""``extract_urls`` starts each regex search near the next dot that can begin a top-level
domain: it must find exactly what a search from the next dot of any kind finds."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import example, given, settings
from hypothesis import strategies as st

from consentry.scrub import detect_spans
from consentry.scrub.detectors import urls
from consentry.scrub.detectors.tlds import ALL_TLDS
from consentry.scrub.detectors.urls import extract_urls


def _from_every_dot(text: str) -> list[tuple[int, int]]:
    """``extract_urls`` as it was: each search starts before the next dot, whatever follows."""
    narrow = urls._DOT_LETTER
    urls._DOT_LETTER = re.compile(r"\.")  # type: ignore[misc]
    try:
        return extract_urls(text)
    finally:
        urls._DOT_LETTER = narrow  # type: ignore[misc]


PIECES = st.sampled_from(
    [
        "see ",
        " ",
        "\n",
        ". ",
        ".",
        "3.5",
        "e.g. ",
        "fin.Je",
        "example.com",
        "https://",
        "http://t.co/abc",
        "/path",
        "?q=1",
        "www.",
        "ß.",
        "ÉCOLE.FR",
        ".рф",
        "xn--p1ai",
        "@",
        "_",
        "-",
        *sorted(ALL_TLDS)[:40:7],
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=14).map("".join))
def test_search_from_tld_dots_finds_what_search_from_every_dot_finds(text: str) -> None:
    assert extract_urls(text) == _from_every_dot(text)


def test_closing_full_stops_and_numbers_end_the_search() -> None:
    assert extract_urls("Go to example.com now. Thanks. 3.5") == [(6, 17)]
    assert extract_urls("v1.2 then https://example.org/x.") == [(10, 31)]


PREFILTER_PIECES = st.sampled_from(
    ["example", ".", "c", "k", "o", "m", "\u212a", "\u017f", "\u0130", "\u0131", " ", "http://"]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(PREFILTER_PIECES, max_size=10).map("".join))
@example("example.c\u212a")
@example("http://example.co\u017f")
def test_the_prefilter_fires_wherever_python_finds_a_url(text: str) -> None:
    """The RE2 prefilter decides which rows Python looks at: a row it skips must hold no URL,
    letters that case-fold to ASCII ones (the Kelvin sign, the long s, dotted and dotless i)
    included. ``example.cK`` (Kelvin sign) slipped through the two-ASCII-letter prefilter."""
    fires = pc.match_substring_regex(pa.array([text]), urls.URL_PREFILTER)[0].as_py()
    if extract_urls(text):
        assert fires, text


def test_a_kelvin_sign_tld_is_scrubbed() -> None:
    spans = detect_spans(["see example.c\u212a now"])[0]
    assert [s.value for s in spans if s.type == "url"] == ["example.c\u212a"]


HOST_END_PIECES = st.sampled_from(
    [
        "example", "jean", ".", ".", "com", "fr", "c", "k", "\u212a", "\u017f", "é", "中", "@",
        "$", "#", "\uff20", " ", "-", "_", "/", ":", "http://", "xn--p1ai", "+", "1", "\x01",
        "\u200e", "\u00a0", "Mit", "\n", "(", "'",
    ]
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(HOST_END_PIECES, max_size=12).map("".join))
@example("jean.dupont@example.com et voir.fr")
@example("x\x01example.com")
@example("\u200eexample.com")
def test_the_host_end_filter_fires_wherever_python_finds_a_url(text: str) -> None:
    """Of the rows the prefilter passes, the detector hands Python only those where a host
    may end in a TLD: a row it skips must hold no URL (e-mail domains, dotted words do not
    fire, a URL after a control character or a directional mark does)."""
    fires = pc.match_substring_regex(pa.array([text]), urls.URL_HOST_END)[0].as_py()
    if extract_urls(text):
        assert fires, text


def test_the_host_end_filter_skips_addresses_and_dotted_words() -> None:
    texts = ["jean.dupont@example.com", "a.b@cd.fr", "fin.Je", "voir example.com", "é.cK"]
    fires = pc.match_substring_regex(pa.array(texts), urls.URL_HOST_END).to_pylist()
    assert fires == [False, False, True, True, True]
