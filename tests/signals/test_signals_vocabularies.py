"""The values each vocabulary writes, checked against the published syntax: AIPREF's
``Content-Usage`` as an RFC 9651 dictionary (parsed by http-sfv, an independent parser)."""

from __future__ import annotations

import http_sfv
import pytest

from consentry.signals import Choice, headers, values
from consentry.signals.registry import COMBOS


def parse_dictionary(text: str) -> dict[str, object]:
    parsed = http_sfv.Dictionary()
    parsed.parse(text.encode("ascii"))
    return {k: v.value for k, v in parsed.items()}


@pytest.mark.parametrize(("train", "answer"), COMBOS)
@pytest.mark.parametrize("search", ["unstated", "y", "n"])
def test_content_usage_is_a_dictionary_of_tokens(train: bool, answer: bool, search: str) -> None:
    said = values(Choice(train, answer, search))  # type: ignore[arg-type]
    parsed = parse_dictionary(said["content_usage"])
    assert parsed["train-ai"] == ("y" if train else "n")
    assert isinstance(parsed["train-ai"], http_sfv.Token)
    if search == "unstated":
        assert "search" not in parsed
    else:
        assert parsed["search"] == search and isinstance(parsed["search"], http_sfv.Token)
    assert set(parsed) <= {"train-ai", "search"}


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
