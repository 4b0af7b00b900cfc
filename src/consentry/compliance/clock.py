"""Time for compliance: one place to read "now", so that tests and audits can fix it."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from consentry.errors import UsageError

#: RFC 3339 time that compliance treats as "now" (tests, and audits replaying a past day).
ENV_NOW = "CONSENTRY_NOW"


def now() -> datetime:
    fixed = os.environ.get(ENV_NOW)
    if not fixed:
        return datetime.now(UTC)
    try:
        t = datetime.fromisoformat(fixed)
    except ValueError:
        raise UsageError(f"{ENV_NOW}={fixed!r} is not an RFC 3339 time") from None
    if t.tzinfo is None:
        raise UsageError(f"{ENV_NOW}={fixed!r} needs a UTC offset, e.g. 2026-01-31T00:00:00Z")
    return t
