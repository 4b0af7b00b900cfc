"""twitter-text's conformance cases for mentions, URLs, hashtags and cashtags.

The cases live in ``shared/conformance/twitter-text/extract.yml`` beside the repository (Apache
2.0). A plain clone has no ``shared/``: the cases skip, saying so; under ``CI=true`` they fail,
so that CI can never pass by skipping them.

Each case runs through the whole scrubber's detection (every detector, overlaps settled), so a
case also checks that e-mails, phones and the rest do not steal twitter-text's entities.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from consentry.scrub import Span, detect_spans

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO_ROOT.parent / "shared" / "conformance" / "twitter-text" / "extract.yml"
SECTIONS = (
    "mentions",
    "mentions_with_indices",
    "mentions_or_lists_with_indices",
    "replies",
    "urls",
    "urls_with_indices",
    "urls_with_directional_markers",
    "tco_urls_with_params",
    "hashtags",
    "hashtags_from_astral",
    "hashtags_with_indices",
    "cashtags",
    "cashtags_with_indices",
)
# twitter-text's white space: what may precede a reply's @.
SPACES = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u180e\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def load_cases() -> list[Any]:
    if not CONFORMANCE.is_file():
        return [pytest.param(None, None, id="conformance-file-absent")]
    import yaml

    tests = yaml.safe_load(CONFORMANCE.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(section, case, id=f"{section}:{i}:{case['description'][:60]}")
        for section in SECTIONS
        for i, case in enumerate(tests[section])
    ]


def of_type(text: str, type_: str) -> list[Span]:
    return [s for s in detect_spans([text])[0] if s.type == type_]


def mentions(text: str) -> list[Span]:
    return [s for s in of_type(text, "handle") if "/" not in s.value]


def extract(section: str, text: str) -> object:
    if section == "mentions":
        return [s.value[1:] for s in mentions(text)]
    if section == "mentions_with_indices":
        return [{"screen_name": s.value[1:], "indices": [s.start, s.end]} for s in mentions(text)]
    if section == "mentions_or_lists_with_indices":
        out = []
        for s in of_type(text, "handle"):
            name, _, slug = s.value[1:].partition("/")
            out.append(
                {
                    "screen_name": name,
                    "list_slug": f"/{slug}" if slug else "",
                    "indices": [s.start, s.end],
                }
            )
        return out
    if section == "replies":
        handles = of_type(text, "handle")
        if handles and "/" not in handles[0].value:
            first = handles[0]
            if all(c in SPACES for c in text[: first.start]):
                return first.value[1:]
        return None
    if section in ("urls", "tco_urls_with_params"):
        return [s.value for s in of_type(text, "url")]
    if section in ("urls_with_indices", "urls_with_directional_markers"):
        return [{"url": s.value, "indices": [s.start, s.end]} for s in of_type(text, "url")]
    if section in ("hashtags", "hashtags_from_astral"):
        return [s.value[1:] for s in of_type(text, "hashtag")]
    if section == "hashtags_with_indices":
        return [
            {"hashtag": s.value[1:], "indices": [s.start, s.end]} for s in of_type(text, "hashtag")
        ]
    if section == "cashtags":
        return [s.value[1:] for s in of_type(text, "cashtag")]
    if section == "cashtags_with_indices":
        return [
            {"cashtag": s.value[1:], "indices": [s.start, s.end]} for s in of_type(text, "cashtag")
        ]
    raise AssertionError(f"unknown section {section}")


@pytest.mark.parametrize(("section", "case"), load_cases())
def test_twitter_text_conformance(section: str | None, case: dict[str, Any] | None) -> None:
    if section is None or case is None:
        reason = f"twitter-text conformance cases not found at {CONFORMANCE}"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: the shared folder must be present)")
        pytest.skip(reason)
    assert extract(section, case["text"]) == case["expected"]
