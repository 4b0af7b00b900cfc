"""Recall and precision per PII type, against planted ground truth.

Ground truth comes as the demo platform writes it (``ground_truth.jsonl``), one span a line::

    {"content_id": "9001", "type": "email", "start": 12, "end": 29, "value": "…",
     "account_id": null}

with code-point offsets into the content item's ``text``. A planted span is *recalled* when a
detection of the same type covers it whole: for scrubbing, a half-replaced e-mail address is a
leaked one. A detection is *correct* when it overlaps a planted span of its type; the others are
false positives and count against precision.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from consentry.scrub.types import Span


@dataclass(frozen=True, slots=True)
class PlantedSpan:
    content_id: str
    type: str
    start: int
    end: int
    value: str = ""
    account_id: str | None = None

    @staticmethod
    def from_mapping(row: Mapping[str, object]) -> PlantedSpan:
        account = row.get("account_id")
        return PlantedSpan(
            content_id=str(row["content_id"]),
            type=str(row["type"]),
            start=int(row["start"]),  # type: ignore[call-overload]
            end=int(row["end"]),  # type: ignore[call-overload]
            value=str(row.get("value", "")),
            account_id=None if account is None else str(account),
        )


def read_ground_truth(path: Path) -> Iterator[PlantedSpan]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield PlantedSpan.from_mapping(json.loads(line))


@dataclass(frozen=True, slots=True)
class TypeScore:
    type: str
    planted: int
    recalled: int
    detected: int
    correct: int

    @property
    def recall(self) -> float | None:
        return self.recalled / self.planted if self.planted else None

    @property
    def precision(self) -> float | None:
        return self.correct / self.detected if self.detected else None


def evaluate(
    planted: Iterable[PlantedSpan | Mapping[str, object]],
    detected: Mapping[str, Sequence[Span]],
    *,
    types: Iterable[str] | None = None,
) -> dict[str, TypeScore]:
    """Scores per type. ``detected`` maps a content id to its detections (any tool's, once
    mapped to our type names); ids absent from it had none."""
    truth: dict[str, list[PlantedSpan]] = defaultdict(list)
    for p in planted:
        span = p if isinstance(p, PlantedSpan) else PlantedSpan.from_mapping(p)
        truth[span.content_id].append(span)
    wanted = None if types is None else set(types)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for cid, spans in truth.items():
        found = detected.get(cid, ())
        for p in spans:
            c = counts[p.type]
            c[0] += 1
            if any(d.type == p.type and d.start <= p.start and d.end >= p.end for d in found):
                c[1] += 1
    for cid, found in detected.items():
        planted_here = truth.get(cid, [])
        for d in found:
            c = counts[d.type]
            c[2] += 1
            if any(p.type == d.type and p.start < d.end and d.start < p.end for p in planted_here):
                c[3] += 1
    return {t: TypeScore(t, *c) for t, c in sorted(counts.items()) if wanted is None or t in wanted}
