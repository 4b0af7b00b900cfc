"""PII on text no one here tuned to (issue 15): ours beside Presidio, on Faker's many locales.

    .venv/bin/python -m benchmarks.bench_pii_eval                     # 5,000 texts, Presidio too
    .venv/bin/python -m benchmarks.bench_pii_eval --no-presidio       # ours only

The texts come from ``benchmarks.pii_eval_set`` (Faker's phones of ~60 locales, cards of every
brand, IBANs, IPs, e-mails, set beside dates, prices, scores, versions, ISBNs, tracking numbers
that must survive), generated seeded at run time, or read with ``--eval FILE``. Printed:

  quality       recall and precision per type, ours and Presidio's, on the same texts (a
                labelled value is recalled when a detection of its type covers it whole; a
                detection is correct when it overlaps a labelled value of its type)
  throughput    texts/s: ours (``scrub_array``, median of ``--runs``) and Presidio's (analyzer
                with its default recognisers + anonymizer, one run), and the ratio

Goals: recall ≥ Presidio's for every type, precision ≥ 0.95, ratio ≥ 1,000×. Presidio and its
spaCy model come with ``pip install -e '.[bench]'`` (see ``bench_scrub``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import logging  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Mapping, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TypeVar  # noqa: E402

import pyarrow as pa  # noqa: E402

from benchmarks.bench_scrub import load_presidio, presidio_detections, run_presidio  # noqa: E402
from benchmarks.common import Figure, parser, repeat, report  # noqa: E402
from benchmarks.pii_eval_set import TYPES, EvalText, make_eval_set, read_eval_set  # noqa: E402
from consentry.scrub import Span, detect_spans, scrub_array  # noqa: E402
from consentry.scrub.evaluate import TypeScore, evaluate  # noqa: E402

T = TypeVar("T")
PRECISION_GOAL = 0.95
RATIO_GOAL = 1000


def cpu_seconds(fn: Callable[[], T]) -> tuple[float, T]:
    """CPU seconds this process spent in ``fn()``, and its result."""
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def our_detections(items: Sequence[EvalText]) -> dict[str, list[Span]]:
    return dict(zip((i.id for i in items), detect_spans([i.text for i in items]), strict=True))


def score(items: Sequence[EvalText], detected: Mapping[str, list[Span]]) -> dict[str, TypeScore]:
    planted = [s for i in items for s in i.spans]
    return evaluate(planted, detected, types=TYPES)


def _cell(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def table(ours: Mapping[str, TypeScore], theirs: Mapping[str, TypeScore] | None) -> list[str]:
    lines = [
        f"  {'type':<6} {'labelled':>8}  {'recall':>6} {'presid.':>7}  {'prec.':>6} {'presid.':>7}"
    ]
    for t in TYPES:
        o = ours.get(t)
        p = theirs.get(t) if theirs is not None else None
        lines.append(
            f"  {t:<6} {o.planted if o else 0:>8}  {_cell(o.recall if o else None)}"
            f" {_cell(p.recall if p else None):>7}  {_cell(o.precision if o else None)}"
            f" {_cell(p.precision if p else None):>7}"
        )
    return lines


def goals_met(ours: Mapping[str, TypeScore], theirs: Mapping[str, TypeScore] | None) -> bool:
    for t in TYPES:
        o = ours.get(t)
        if o is None:
            continue
        if (o.precision or 0.0) < PRECISION_GOAL:
            return False
        p = theirs.get(t) if theirs is not None else None
        if p is not None and (o.recall or 0.0) < (p.recall or 0.0):
            return False
    return True


def main(argv: Sequence[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--texts", type=int, default=5000, help="texts generated (without --eval)")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--eval", type=Path, default=None, help="read this JSONL set instead")
    p.add_argument("--no-presidio", action="store_true", help="skip Presidio")
    args = p.parse_args(argv)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    # Presidio's URL recogniser asks tldextract for the public suffix list online, and logs
    # a traceback when offline before using its bundled copy.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)

    items = list(
        read_eval_set(args.eval) if args.eval else make_eval_set(args.texts, seed=args.seed)
    )
    texts = [i.text for i in items]
    batch = pa.array(texts, pa.string())
    scrub_array(batch)  # warm up: imports, compiled regexes
    ours_cpu, (ours_s, _) = cpu_seconds(lambda: repeat(args.runs, lambda: scrub_array(batch)))
    ours_cpu /= args.runs
    figures = [Figure(f"ours: scrub {len(items):,} texts", ours_s, items=len(items))]
    ours = score(items, our_detections(items))

    theirs: dict[str, TypeScore] | None = None
    loaded = load_presidio(skip=args.no_presidio)
    if isinstance(loaded, str):
        note = loaded
    else:
        analyzer, anonymizer = loaded
        run_presidio(analyzer, anonymizer, texts[:20])  # load the model outside the timing
        presidio_cpu, (presidio_s, results) = cpu_seconds(
            lambda: repeat(1, lambda: run_presidio(analyzer, anonymizer, texts))
        )
        theirs = score(items, presidio_detections([i.id for i in items], texts, results[0]))
        ratio = figures[0].median_s and presidio_s[0] / figures[0].median_s
        figures.append(
            Figure(
                f"presidio: {len(items):,} texts (1 run)",
                presidio_s,
                items=len(items),
                goal=f"ours ≥ {RATIO_GOAL:,}× faster",
                met=ratio >= RATIO_GOAL,
                notes={
                    "throughput_ratio": round(ratio),
                    "cpu_ratio": round(presidio_cpu / ours_cpu),
                },
            )
        )
        note = (
            f"ours {ratio:,.0f}× Presidio's texts/s (wall clock); "
            f"{presidio_cpu / ours_cpu:,.0f}× by CPU time, which other programs on a "
            "shared machine disturb less"
        )
    met = goals_met(ours, theirs)
    figures.append(
        Figure(
            "quality",
            [0.0],
            goal=f"recall ≥ Presidio's, precision ≥ {PRECISION_GOAL}",
            met=met,
            notes={
                t: {
                    "ours": [ours[t].recall, ours[t].precision],
                    "presidio": None if theirs is None else [theirs[t].recall, theirs[t].precision],
                }
                for t in ours
            },
        )
    )
    report("PII on an independent set (issue 15)", figures, args.json)
    print()
    print("\n".join(table(ours, theirs)))
    print(f"\n  presidio: {note}")


if __name__ == "__main__":
    main()
