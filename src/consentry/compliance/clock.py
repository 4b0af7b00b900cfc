"""Time for compliance: one place to read "now", so that tests and audits can fix it."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from consentry.times import parse_rfc3339

#: RFC 3339 time that compliance treats as "now" (tests, and audits replaying a past day).
ENV_NOW = "CONSENTRY_NOW"


def now() -> datetime:
    fixed = os.environ.get(ENV_NOW)
    return parse_rfc3339(fixed, what=ENV_NOW) if fixed else datetime.now(UTC)
