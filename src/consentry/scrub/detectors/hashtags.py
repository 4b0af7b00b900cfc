"""Hashtags and cashtags: detected (so no other detector claims their text) but kept.

Both follow twitter-text. Hashtag: ``#`` or ``＃`` not preceded by ``&`` or a hashtag
character (RE2 consumes that preceding character), then hashtag characters (letters, marks,
decimal digits, ``_`` and a few joiners) with at least one letter or mark; not followed by
another ``#`` nor ``://``, and not a keycap emoji (``#`` + U+FE0F or U+20E3). Cashtag: ``$`` at
the start or after white space, 1–6 ASCII letters, optionally ``.`` or ``_`` and 1–2 letters,
followed by the end, white space or ASCII punctuation.
"""

from __future__ import annotations

from typing import Final

from consentry.scrub.detectors.charclasses import HASH_SIGNS, PUNCT, SPACES
from consentry.scrub.registry import RegexDetector

_SPECIAL: Final = (
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003"
    "\u0f0b\u0f0c\u00b7"
)
_LETTERS: Final = "\\pL\\pM"
_CHARS: Final = f"[{_LETTERS}\\p{{Nd}}{_SPECIAL}]"

HASHTAGS: Final = RegexDetector(
    name="hashtag",
    type="hashtag",
    prefilter=f"[{HASH_SIGNS}]",
    needs=HASH_SIGNS,
    # U+FE0E/U+FE0F (emoji variation selectors) are marks, so excluded by the class; they are
    # allowed explicitly so that "✌️#tag" is a hashtag.
    before=f"^|\ufe0e|\ufe0f|[^&{_LETTERS}\\p{{Nd}}{_SPECIAL}]",
    body=f"[{HASH_SIGNS}]{_CHARS}*[{_LETTERS}]{_CHARS}*",
    reject_after=f"^(?:[{HASH_SIGNS}]|://)",
    reject_value=f"^[{HASH_SIGNS}][\ufe0f\u20e3]",
)

CASHTAGS: Final = RegexDetector(
    name="cashtag",
    type="cashtag",
    prefilter="\\$[A-Za-z]",
    needs="$",
    before=f"^|[{SPACES}]",
    body="\\$[A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?",
    # The lookahead "(?=$|\s|[punct])", inverted: reject when anything else follows.
    reject_after=f"^[^{SPACES}{PUNCT}]",
)
