"""``extract_urls`` starts each regex search near the next dot that can begin a top-level
domain: it must find exactly what a search from the next dot of any kind finds."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

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
