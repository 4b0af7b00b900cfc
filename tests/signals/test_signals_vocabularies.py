"""The values each vocabulary writes, checked against the published syntax: AIPREF's
``Content-Usage`` as an RFC 9651 dictionary (parsed by http-sfv, an independent parser)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from consentry.signals import Choice, headers, parse_signals, values
from consentry.signals.published import rule_paths, url_part
from consentry.signals.registry import COMBOS

from .support import parse_usage


@pytest.mark.parametrize(("train", "answer"), COMBOS)
@pytest.mark.parametrize("search", ["unstated", "y", "n"])
def test_content_usage_is_a_dictionary_of_tokens(train: bool, answer: bool, search: str) -> None:
    said = values(Choice(train, answer, search))  # type: ignore[arg-type]
    parsed = parse_usage(said["content_usage"])
    expected = {"train-ai": "y" if train else "n"}
    if search != "unstated":
        expected["search"] = search
    assert parsed == expected


@pytest.mark.parametrize(("train", "answer"), COMBOS)
def test_content_signal_and_tdmrep(train: bool, answer: bool) -> None:
    said = values(Choice(train, answer, "y"))
    pairs = dict(p.split("=") for p in said["content_signal"].split(", "))
    assert pairs == {
        "ai-train": "yes" if train else "no",
        "ai-input": "yes" if answer else "no",
        "search": "yes",
    }
    assert said["tdm_reservation"] == ("0" if train else "1")


def test_headers_are_content_usage_and_tdm_reservation() -> None:
    sent = dict(headers(Choice(False, False)))
    assert sent == {"Content-Usage": "train-ai=n", "tdm-reservation": "1"}


def test_odd_handles_are_percent_encoded_in_rules() -> None:
    config = parse_signals({}, "<test>")
    parts = url_part(pa.array(["alice", "a b\nUser-Agent: evil", "é/x", "x*$"]))
    profile, post = config.pages
    assert rule_paths(profile, parts).to_pylist() == [
        "/alice$",
        "/a%20b%0AUser-Agent%3A%20evil$",
        "/%C3%A9%2Fx$",
        "/x%2A%24$",
    ]
    assert rule_paths(post, parts)[0].as_py() == "/alice/status/"
