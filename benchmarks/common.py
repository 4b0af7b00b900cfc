"""Timing helpers shared by the benchmarks: median of N runs, one line per figure, JSON output.

A figure is measured ``runs`` times (each run may prepare fresh state outside the timed part)
and reported as its median, with every run kept in the JSON for whoever wants the spread.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Figure:
    """One measured quantity: seconds per run, and optionally items handled per run."""

    name: str
    seconds: list[float]
    items: int | None = None
    goal: str | None = None
    met: bool | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def per_second(self) -> float | None:
        return self.items / self.median_s if self.items and self.median_s > 0 else None

    def line(self) -> str:
        rate = f"  {self.per_second:>12,.0f} /s" if self.per_second else ""
        goal = ""
        if self.goal:
            goal = f"  goal {self.goal}: {'met' if self.met else 'MISSED'}"
        runs = ", ".join(f"{s:.3f}" for s in self.seconds)
        return f"{self.name:<48} median {self.median_s:8.3f} s{rate}{goal}  (runs: {runs})"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "median_s": self.median_s, "per_second": self.per_second}


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Seconds taken by ``fn()`` (monotonic clock), and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def repeat(
    runs: int, fn: Callable[[], T], *, setup: Callable[[], object] | None = None
) -> tuple[list[float], list[T]]:
    """Time ``fn`` ``runs`` times, calling ``setup`` (untimed) before each run."""
    seconds, results = [], []
    for _ in range(runs):
        if setup is not None:
            setup()
        s, r = timed(fn)
        seconds.append(s)
        results.append(r)
    return seconds, results


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark shares (``--runs``, ``--json``)."""
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--runs", type=int, default=3, help="runs per figure (the median is reported)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    return p


def report(title: str, figures: list[Figure], json_path: Path | None) -> None:
    print(f"\n{title}")
    for f in figures:
        print("  " + f.line())
    if json_path is not None:
        doc = {
            "benchmark": title,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "figures": [f.to_json() for f in figures],
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"  (written to {json_path})")


def own_peak_rss_kb() -> int:
    """This program's peak resident memory (KB), since it was started.

    Not ``getrusage``'s ``ru_maxrss``: Linux keeps it across ``exec``, so a child counts the
    resident pages of the parent it was forked from (a benchmark's parent that had just read 10M
    posts for its baseline made every build's peak read ~310 MB, whatever the build used).
    ``VmHWM`` belongs to the memory of the program ``exec`` started."""
    try:
        with Path("/proc/self/status").open() as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # (KB on Linux)


def flat_memory(peaks: dict[int, float], bound: float = 1.10) -> Figure | None:
    """How the median peak RSS (MB, per input size) grows from the smallest size to the
    largest: printed, and a figure whose goal is growth of at most ``bound``."""
    if len(peaks) < 2:
        return None
    small, large = min(peaks), max(peaks)
    growth = peaks[large] / peaks[small]
    print(
        f"  peak RSS: {peaks[small]:.0f} MB at {small:,} posts, {peaks[large]:.0f} MB at "
        f"{large:,} posts (x{growth:.2f})",
        flush=True,
    )
    return Figure(
        name=f"peak RSS {large:,} vs {small:,} posts",
        seconds=[0.0],
        goal=f"flat (x{bound:.2f} at most)",
        met=growth <= bound,
        notes={"peak_rss_mb": {str(k): round(v, 1) for k, v in peaks.items()}, "growth": growth},
    )
