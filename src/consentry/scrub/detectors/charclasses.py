"""Character classes shared by the twitter-text-compatible detectors (mentions, hashtags, URLs).

They follow twitter-text (Apache-2.0) so that extraction agrees with its conformance cases.
Each is the *inside* of a bracket expression, valid both for RE2 and for Python's ``re``.
"""

from __future__ import annotations

from typing import Final

#: Latin letters with accents and combining diacritics: a mention followed by one of these is
#: a word, not a mention (``@aliceìnheiro``).
LATIN_ACCENTS: Final = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f"
    "\u0253\u0254\u0256\u0257\u0259\u025b\u0263\u0268\u026f\u0272\u0289\u028b"
    "\u02bb\u0300-\u036f\u1e00-\u1eff"
)
CYRILLIC: Final = "\u0400-\u04ff"

#: Unicode white space as twitter-text counts it.
SPACES: Final = "\t-\r \u0085\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

#: twitter-text's punctuation: the ASCII set, escaped for a bracket expression.
PUNCT: Final = "!'#%&()*+,\\\\\\-./:;<=>?@\\[\\]^_{|}~$\"`"

#: Byte-order marks and noncharacters: never part of a word or domain.
INVALID: Final = "\ufffe\ufeff\uffff"

#: Bidirectional marks and isolates, which RTL text places around words and URLs.
DIRECTIONAL: Final = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"

AT_SIGNS: Final = "@\uff20"
HASH_SIGNS: Final = "#\uff03"
