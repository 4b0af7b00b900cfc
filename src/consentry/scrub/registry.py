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

from consentry.scrub.found import Found, Int64s
from consentry.scrub.marking import Matches, find_all, find_body, takes_body
from consentry.scrub.types import PII_TYPES

#: Given a candidate's text, the parts of it that really are PII, as (start, end) code-point
#: offsets relative to the candidate. Empty: not PII.
Validator = Callable[[str], Sequence[tuple[int, int]]]
#: The same for every candidate of a batch at once (vectorised: no Python per candidate):
#: (index of the candidate, start, end) of each part, sorted by candidate, then start.
BatchValidator = Callable[[pa.StringArray], tuple[Int64s, Int64s, Int64s]]


def needs(detector: Detector) -> str:
    """Characters one of which every text the detector finds something in holds, or "" when
    it declares none (an optional ``needs`` attribute). The scrubber tests them on the bytes
    of the batch in numpy, tens of microseconds, before the detector's RE2 prefilter, whose
    every kernel call costs ~0.1 µs a row even when it looks for a single character."""
    declared = getattr(detector, "needs", "")
    return declared if isinstance(declared, str) else ""


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
    ``reject_value`` is tested on the candidate itself. ``validate_batch``, when given,
    decides on every candidate of a batch at once, in place of ``validate``. ``needs``: when
    not empty, characters one of which every text with a detection holds (see ``needs``).
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
    validate_batch: BatchValidator | None = field(default=None, compare=False)
    needs: str = ""

    @property
    def pattern(self) -> str:
        return f"({self.before})({self.body})"

    def find(self, texts: pa.StringArray) -> Found:
        if takes_body(self.before):
            m = find_body(texts, self.body, self.before)
        else:
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
        if self.validate_batch is not None:
            parts = self.validate_batch(m.values)
        elif self.validate is not None:
            parts = _validate_each(self.validate, m.values.to_pylist())
        else:
            return Found.of_type(self.type, m.rows, m.start, m.end, m.bstart, m.bend, m.values)
        return _parts_found(self.type, m, *parts)


def _validate_each(validate: Validator, values: list[str | None]) -> tuple[Int64s, Int64s, Int64s]:
    idx: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, value in enumerate(values):
        if value is None:
            continue
        for rel_start, rel_end in validate(value):
            idx.append(i)
            starts.append(rel_start)
            ends.append(rel_end)
    return (
        np.array(idx, dtype=np.int64),
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
    )


def _parts_found(
    type_name: str, m: Matches, idx: Int64s, rel_start: Int64s, rel_end: Int64s
) -> Found:
    """The validated parts of candidates as spans. Most parts are a whole candidate, whose
    offsets and value are the candidate's: only the others need their text and UTF-8
    offsets worked out in Python."""
    start = m.start[idx]
    values = m.values.take(pa.array(idx, pa.int64()))
    bstart = m.bstart[idx].copy()
    bend = m.bend[idx].copy()
    cut = np.flatnonzero((rel_start != 0) | (rel_end != m.end[idx] - start))
    if len(cut):
        texts = values.to_pylist()
        for i in cut.tolist():
            text, a, b = texts[i], int(rel_start[i]), int(rel_end[i])
            bstart[i] += len(text[:a].encode("utf-8"))
            texts[i] = text[a:b]
            bend[i] = bstart[i] + len(texts[i].encode("utf-8"))
        values = pa.array(texts, pa.string())
    return Found.of_type(
        type_name, m.rows[idx], start + rel_start, start + rel_end, bstart, bend, values
    )


def whole_when(pattern: str) -> BatchValidator:
    """A batch validator keeping the candidates ``pattern`` (RE2, anchor it) matches, whole:
    one kernel for the batch where a Python check cost a microsecond or more a candidate."""

    def validate(values: pa.StringArray) -> tuple[Int64s, Int64s, Int64s]:
        hit = pc.fill_null(pc.match_substring_regex(values, pattern), False)
        idx = np.flatnonzero(hit.to_numpy(zero_copy_only=False)).astype(np.int64)
        ends = pc.utf8_length(values.take(pa.array(idx, pa.int64())))
        return idx, np.zeros(len(idx), dtype=np.int64), ends.to_numpy().astype(np.int64)

    return validate


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
