"""The detector seam: what a detector is, the regex-based kind most are, and the registry.

A detector finds spans of one PII type in a batch of texts. It declares a ``prefilter``: an RE2
pattern every text with a detection matches (a necessary condition, cheap to test). The
scrubber runs one combined prefilter over the batch and hands each detector only the rows its
own prefilter fired on, so text without anything that looks like PII costs one regex scan.

Most detectors are a ``RegexDetector``: RE2 finds candidates over the whole sub-batch at once
(see ``marking``), RE2 checks stand in for the lookarounds RE2 lacks, and an optional Python
``validate`` (Luhn, mod-97, ``phonenumbers``, ``ipaddress``) decides on the candidates only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.scrub.found import Found, FoundBuilder
from consentry.scrub.marking import find_all
from consentry.scrub.types import PII_TYPES

#: Given a candidate's text, the parts of it that really are PII, as (start, end) code-point
#: offsets relative to the candidate. Empty: not PII.
Validator = Callable[[str], Sequence[tuple[int, int]]]


class Detector(Protocol):
    """One kind of PII. ``name`` is unique in a registry; several detectors may share a type."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def prefilter(self) -> str: ...

    def find(self, texts: pa.StringArray) -> Found:
        """Spans in ``texts`` (all of which matched ``prefilter``); rows index ``texts``."""
        ...


@dataclass(frozen=True, slots=True)
class RegexDetector:
    """Candidates from one RE2 pattern, filtered by RE2 checks, then by an optional validator.

    ``before`` matches the character preceding a candidate (or ``^``): RE2 has no lookbehind,
    so it is consumed and written back. ``reject_after`` is tested on the text that follows a
    candidate (anchor it with ``^``): a match rejects the candidate, like a negative lookahead.
    ``reject_value`` is tested on the candidate itself.
    """

    name: str
    type: str
    prefilter: str
    body: str
    # ASCII by default: RE2 compiles Unicode classes (\\pL…) into large automata, which costs
    # milliseconds per kernel call, that is per batch.
    before: str = "^|[^A-Za-z0-9_]"
    reject_after: str | None = None
    reject_value: str | None = None
    validate: Validator | None = field(default=None, compare=False)

    @property
    def pattern(self) -> str:
        return f"({self.before})({self.body})"

    def find(self, texts: pa.StringArray) -> Found:
        m = find_all(texts, self.pattern)
        if len(m) == 0:
            return Found.empty()
        keep = np.ones(len(m), dtype=np.bool_)
        if self.reject_after is not None:
            hit = pc.match_substring_regex(m.after, self.reject_after)
            keep &= ~hit.to_numpy(zero_copy_only=False)
        if self.reject_value is not None:
            hit = pc.match_substring_regex(m.values, self.reject_value)
            keep &= ~hit.to_numpy(zero_copy_only=False)
        if not keep.all():
            m = m.take(keep)
        if self.validate is None:
            return Found.of_type(self.type, m.rows, m.start, m.end, m.bstart, m.bend, m.values)
        return self._validated(m.rows, m.start, m.bstart, m.values.to_pylist())

    def _validated(
        self,
        rows: np.ndarray,
        starts: np.ndarray,
        bstarts: np.ndarray,
        values: list[str | None],
    ) -> Found:
        assert self.validate is not None
        found = FoundBuilder(self.type)
        for row, start, bstart, value in zip(
            rows.tolist(), starts.tolist(), bstarts.tolist(), values, strict=True
        ):
            if value is None:
                continue
            for rel_start, rel_end in self.validate(value):
                found.add(row, value, rel_start, rel_end, offset=start, boffset=bstart)
        return found.build()


class Registry:
    """Detectors by name, in priority order: on an exact tie the earlier one wins."""

    def __init__(self, detectors: Iterable[Detector] = ()) -> None:
        self._detectors: dict[str, Detector] = {}
        for d in detectors:
            self.register(d)

    def register(self, detector: Detector) -> None:
        if detector.name in self._detectors:
            raise ValueError(f"a detector named {detector.name!r} is already registered")
        if detector.type not in PII_TYPES:
            raise ValueError(f"detector {detector.name!r} has an unknown type {detector.type!r}")
        self._detectors[detector.name] = detector

    def names(self) -> list[str]:
        return list(self._detectors)

    def get(self, name: str) -> Detector:
        try:
            return self._detectors[name]
        except KeyError:
            known = ", ".join(self._detectors)
            raise KeyError(f"no detector named {name!r} (known: {known})") from None

    def select(self, names: Iterable[str] | None = None) -> list[Detector]:
        """The named detectors (all of them when ``names`` is None), in registry order."""
        if names is None:
            return list(self._detectors.values())
        wanted = set(names)
        for name in wanted:
            self.get(name)
        return [d for n, d in self._detectors.items() if n in wanted]

    def __iter__(self) -> Iterator[Detector]:
        return iter(self._detectors.values())

    def __len__(self) -> int:
        return len(self._detectors)
