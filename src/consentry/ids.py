"""The rule every id follows, wherever it comes in (an import, a token, a command, a request):
in a module of its own, light to import, so that a command checking one id does not load the
importers' validation (``platform.validation``, which applies it to whole columns)."""

from __future__ import annotations

import re
from typing import Final

from consentry.errors import UsageError

MAX_ID_CHARS: Final = 512
#: No id holds a control character: NUL cannot be stored in PostgreSQL text (SQLite takes it),
#: and the others are always an encoding accident or an attack on whoever prints the id.
ID_CONTROL_CHARS: Final = r"[\x00-\x1f\x7f-\x9f]"
_ID_CONTROL: Final = re.compile(ID_CONTROL_CHARS)


def check_id(value: str, name: str = "account id") -> str:
    """``value`` when it is an id the importers take (the rule of ``id_length``, for one id that
    comes in elsewhere: a token, a command, a request); ``UsageError`` otherwise."""
    if not value:
        raise UsageError(f"{name} is empty")
    if len(value) > MAX_ID_CHARS:
        raise UsageError(f"{name} is longer than {MAX_ID_CHARS} characters")
    if _ID_CONTROL.search(value):
        raise UsageError(f"{name} {value!r} contains a control character")
    return value
