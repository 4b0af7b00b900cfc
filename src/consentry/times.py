"""RFC 3339 times as people type them: one parser, one message, wherever a time is read."""

from __future__ import annotations

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
