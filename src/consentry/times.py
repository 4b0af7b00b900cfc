"""Times: RFC 3339 as people type them (one parser, one message, wherever a time is read), and
the microseconds since the epoch that the databases store."""

from __future__ import annotations

import time
from datetime import datetime

from consentry.errors import UsageError


def parse_rfc3339(text: str, *, what: str) -> datetime:
    """``text`` as an aware datetime (``Z`` allowed); ``what`` names where it came from."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what}: not an RFC 3339 time: {text!r}") from None
    if t.tzinfo is None:
        raise UsageError(
            f"{what}: the time needs a UTC offset, e.g. 2024-07-27T08:00:00Z or "
            f"2024-07-27T10:00:00+02:00: {text!r}"
        )
    return t


def now_us() -> int:
    """Now, in microseconds since the epoch (the unit of every ``*_us`` column)."""
    return time.time_ns() // 1_000
