"""Language tags: the one normaliser every import path uses (BCP 47, RFC 5646).

Sources write languages loosely: ``en_US`` (POSIX locales), ``zhCn`` (Mastodon 3.x's camel-cased
``contentMap`` keys), ``EN-us``. A tag that can be read is written in its canonical form
(``zh-CN``, ``en-US``, deprecated codes replaced: ``iw`` → ``he``) by ``langcodes``; one that is no
tag at all is dropped. Either way the item is kept: a language is an optional field, and a bad
one never costs a valid post. The caller counts what changed (``import`` reports it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import langcodes

#: Where a lower-case letter meets an upper-case one inside a tag (``zhCn``, ``zhHantTw``).
_CAMEL: Final = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class Language:
    """What became of one language value: ``tag`` (None: dropped) and, when it is not the value
    as given, why (for the import report)."""

    tag: str | None
    note: str | None = None


@lru_cache(maxsize=4096)
def normalise_language(value: str) -> Language:
    """The canonical BCP 47 form of ``value``, or no tag (with the reason) when it is none."""
    text = value.strip()
    if not text:
        return Language(None)
    candidate = _CAMEL.sub("-", text.replace("_", "-"))
    try:
        tag = langcodes.standardize_tag(candidate)
    except ValueError:  # langcodes.LanguageTagError
        tag = None
    if tag is None or not langcodes.tag_is_valid(tag):
        return Language(None, f"not a language tag: {value!r}; language dropped")
    if tag == value:
        return Language(tag)
    return Language(tag, f"language {value!r} read as {tag!r}")
