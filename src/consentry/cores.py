"""How many cores this process may use: what ``--workers`` defaults to everywhere."""

from __future__ import annotations

import os


def every_core() -> int:
    """The cores this process may run on (a container's or ``taskset``'s limit included)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
