"""Field types the API's models share: text that holds no control character, whole numbers
that fit the 64-bit integers of both backends."""

from __future__ import annotations

from typing import Final

from pydantic import StringConstraints

from consentry.api.problems import ProblemError
from consentry.ids import ID_CONTROL_CHARS

#: The largest whole number the API takes anywhere (BIGINT on PostgreSQL, INTEGER on SQLite).
MAX_INT: Final = 2**63 - 1
_PLAIN: Final = f"^[^{ID_CONTROL_CHARS[1:-1]}]*$"


def plain(max_length: int, *, min_length: int = 1) -> StringConstraints:
    """Text of ``min_length`` to ``max_length`` characters, none of them a control character."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=_PLAIN)


def bounded(digits: str) -> int | None:
    """The number ``digits`` (ASCII digits) spell, or None past ``MAX_INT``: decided before
    ``int()``, which refuses 5,000 digits with a ValueError, and the database a large one."""
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(MAX_INT)) or int(significant) > MAX_INT:
        return None
    return int(significant)


def whole_number(text: str | None, name: str) -> int | None:
    """``text`` (digits, as a query parameter) as a number, or None when absent or empty; 400
    past ``MAX_INT``, which would otherwise reach the database and fail there."""
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        raise ProblemError(400, f"{name} must be a whole number")
    value = bounded(text)
    if value is None:
        raise ProblemError(400, f"{name} must be at most {MAX_INT}")
    return value
