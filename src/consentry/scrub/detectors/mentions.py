"""Mentions of accounts: ``@handle`` (and ``@handle/list-slug``), as twitter-text finds them.

twitter-text's rule, reshaped for RE2 (no lookarounds):

* preceding: start of text, a character that is not a word character nor one of ``!#$%&*@＠``,
  or ``RT``/``rt`` (+ optional ``:``) itself not preceded by a word character or ``+~.-``. RE2
  has no lookbehind, so the pattern *consumes* that context in its first group.
* the handle: 1–20 of ``[A-Za-z0-9_]``, then an optional list slug ``/name``.
* following: not an ``@`` (``@user@host`` is too close to an email), not an accented Latin
  letter (a longer word), not ``://`` (``@http://…``). Checked on the text after the match,
  standing in for the negative lookahead.

Handles already pseudonymised by this scrubber (``@u_`` + 16 base32 characters: longer than
any X handle may be) are not mentions, so that scrubbing its own output changes nothing.
"""

from __future__ import annotations

from typing import Final

from consentry.scrub.detectors.charclasses import AT_SIGNS, LATIN_ACCENTS
from consentry.scrub.registry import RegexDetector

HANDLE_BODY: Final = f"[{AT_SIGNS}][A-Za-z0-9_]{{1,20}}(?:/[A-Za-z][A-Za-z0-9_\\-]{{0,24}})?"

MENTIONS: Final = RegexDetector(
    name="handle",
    type="handle",
    prefilter=f"[{AT_SIGNS}][A-Za-z0-9_]",
    needs=AT_SIGNS,
    before=(f"^|[^A-Za-z0-9_!#$%&*{AT_SIGNS}]|(?:^|[^A-Za-z0-9_+~.\\-])(?:rt|RT|rT|Rt):?"),
    body=HANDLE_BODY,
    reject_after=f"^(?:[{AT_SIGNS}]|[{LATIN_ACCENTS}]|://)",
    reject_value=f"^[{AT_SIGNS}]u_[a-z2-7]{{16}}$",
)
