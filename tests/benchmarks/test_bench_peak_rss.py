"""The benchmarks' peak-memory reading: a child's own peak, not its parent's resident pages
(which Linux's ``ru_maxrss`` carries across ``exec``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = (
    "import resource; from benchmarks.common import own_peak_rss_kb; "
    "print(own_peak_rss_kb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_child_reports_its_own_peak_not_its_parents() -> None:
    held = bytearray(300 * 1024 * 1024)  # resident: every page written
    for i in range(0, len(held), 4096):
        held[i] = 1
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, check=True
    )
    own_kb, maxrss_kb = (int(v) for v in out.stdout.split())
    assert maxrss_kb > 300 * 1024  # what ru_maxrss says: the parent's pages
    assert own_kb < 100 * 1024  # a bare Python
    del held
