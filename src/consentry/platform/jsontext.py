"""Decoding one JSON text (a row, a small document) with every failure turned into a reason.

The standard library's decoder recurses once per nesting level and raises ``RecursionError``
past Python's recursion limit (about a thousand levels): a hostile line of 200,000 ``[`` would
otherwise abort a whole import. No real row comes near that depth, so such a text is refused
like any other broken JSON, with a reason, and the import goes on.
"""

from __future__ import annotations

import json
from typing import Any, Final

#: Said of a text the decoder gave up on because of its depth (the exact limit is Python's).
TOO_DEEP: Final = "JSON nested too deeply (over about 1,000 levels): not a row"


class JsonTextError(ValueError):
    """The text is not JSON: ``reason`` and, when known, the 1-based line and column."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        super().__init__(reason)


def loads(text: str | bytes) -> Any:
    """``json.loads``, raising ``JsonTextError`` for broken or too deeply nested JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonTextError(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise JsonTextError(TOO_DEEP) from None
