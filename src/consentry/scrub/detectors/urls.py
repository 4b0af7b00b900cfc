"""URLs, with or without protocol, as twitter-text extracts them.

twitter-text's URL rule leans on what RE2 cannot do: a lookahead after the top-level domain
(``example.com`` but not ``example.comm``) steers which split of the host the regex backtracks
to (``http://example.comだよね.com`` is ``http://example.com``), and the rules around it need
the match's groups (protocol, host, path). Emulating that with consumed context in RE2 changes
which URL wins in real cases, so this detector splits the work:

* RE2 (vectorised, the whole batch): every URL contains ``.`` and a top-level domain, so
  ``.`` and two ASCII letters or a non-ASCII character. That is the prefilter; it fires on
  text with a URL or something close (``fin.Je``), and on nothing else.
* Python's ``re`` (lookarounds, possessive-free like JavaScript) on those rows only: the
  twitter-text pattern and its post-processing (host validity and length through IDNA, the
  stricter rules for hosts without protocol, t.co slugs).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.scrub.detectors.charclasses import (
    CYRILLIC,
    DIRECTIONAL,
    INVALID,
    LATIN_ACCENTS,
    PUNCT,
    SPACES,
)
from consentry.scrub.detectors.tlds import ALL_TLDS
from consentry.scrub.found import Found, FoundBuilder

MAX_URL_LENGTH: Final = 4096
MAX_TCO_SLUG_LENGTH: Final = 40


def trie_regex(words: Iterable[str]) -> str:
    """A regex alternation of ``words`` factored as a trie, so that matching one is O(length).

    Longer words come first at each branch, so the longest candidate is tried first.
    """
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:  # type: ignore[type-arg]
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        branches.sort(key=len, reverse=True)
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return build(trie)


_DC: Final = f"[^{PUNCT}{SPACES}{INVALID}{DIRECTIONAL}]"
_SUBDOMAIN: Final = f"(?:(?:{_DC}(?:[_\\-]|{_DC})*)?{_DC}\\.)"
_DOMAIN_NAME: Final = f"(?:(?:{_DC}(?:-|{_DC})*)?{_DC}\\.)"
_TLD_END: Final = "(?=[^a-z0-9@+\\-]|$)"
_GTLD_CCTLD: Final = f"(?:{trie_regex(ALL_TLDS)}){_TLD_END}"
_PUNYCODE: Final = "(?:xn--[\\-0-9a-z]+)"
_DOMAIN: Final = f"(?:{_SUBDOMAIN}*{_DOMAIN_NAME}(?:{_GTLD_CCTLD}|{_PUNYCODE}))"
_PC: Final = f"[a-z{CYRILLIC}0-9!*';:=+,.$/%#\\[\\]\\-\u2013_~@|&{LATIN_ACCENTS}]"
_BALANCED: Final = f"\\((?:{_PC}+|(?:{_PC}*\\({_PC}+\\){_PC}*))\\)"
_PATH_END: Final = f"(?:[+\\-a-z{CYRILLIC}0-9=_#/{LATIN_ACCENTS}]|{_BALANCED})"
_PATH: Final = f"(?:(?:{_PC}*(?:{_BALANCED}{_PC}*)*{_PATH_END})|(?:@{_PC}+/))"
_QUERY: Final = "[a-z0-9!?*'@();:&=+$/%#\\[\\]\\-_.,~|]"
_QUERY_END: Final = "[a-z0-9\\-_&=#/]"
_BEFORE: Final = f"(?:[^a-z0-9@\uff20$#\uff03{INVALID}]|[{DIRECTIONAL}]|^)"

#: twitter-text's URL pattern (compiled by ``_compiled``, ignoring case).
URL: Final = (
    f"(?P<before>{_BEFORE})"
    "(?P<url>"
    "(?P<protocol>https?://)?"
    f"(?P<domain>{_DOMAIN})"
    "(?::[0-9]+)?"
    # Possessive, as in twitter-text's Java version: a path never gives characters back, which
    # keeps Python's backtracking linear on long runs of punctuation.
    f"(?P<path>/{_PATH}*+)?"
    f"(?:\\?{_QUERY}*{_QUERY_END})?"
    ")"
)
_ASCII_DOMAIN: Final = f"(?:(?:[\\-a-z0-9{LATIN_ACCENTS}]+)\\.)+(?:{_GTLD_CCTLD}|{_PUNYCODE})"


@functools.cache
def _compiled(source: str) -> re.Pattern[str]:
    """``URL`` and ``_ASCII_DOMAIN``, compiled when first used: with every top-level domain
    they take ~0.2 CPU-s to compile, which a process that only names the detectors (the
    build's own, while its workers scrub) need not pay. ``warm`` compiles them beforehand
    where processes are forked from."""
    return re.compile(source, re.IGNORECASE)


def warm() -> None:
    """Compile the patterns now (before a process forks the ones that scrub)."""
    _compiled(URL), _compiled(_ASCII_DOMAIN)


_TCO: Final = re.compile(
    f"^https?://t\\.co/([a-z0-9]+)(?:\\?{_QUERY}*{_QUERY_END})?", re.IGNORECASE
)
_NO_PROTOCOL_BAD_BEFORE: Final = re.compile("[\\-_./]$")
#: A dot then a letter (``[^\W\d_]``: word characters but digits and ``_``; a few numerals
#: too, which only makes it looser): where a top-level domain can start.
_DOT_LETTER: Final = re.compile(r"\.[^\W\d_]")


#: RE2: a dot, then two ASCII letters (every ASCII TLD, and punycode's "xn") or a non-ASCII
#: character (IDN TLDs). The second letter may be non-ASCII too: the URL pattern ignores case
#: the Unicode way, where the Kelvin sign is a "k" and the long s an "s" (``example.cK`` is a
#: URL to it). Loose and cheap: the scrubber's gate combines it with the other detectors'.
URL_PREFILTER: Final = "\\.(?:[A-Za-z](?:[A-Za-z]|[^\\x00-\\x7f])|[^\\x00-\\x7f])"
#: RE2, on the rows ``URL_PREFILTER`` fires on: where a URL's host may end in its top-level
#: domain, a necessary condition the rows handed to Python all meet. The TLD: ASCII letters
#: not followed by what ``_TLD_END`` refuses (``jean.dupont@`` is no host), or letters then
#: a non-ASCII character (IDN TLDs, the Kelvin sign), or punycode's ``xn--``. The host before
#: it: characters a host may hold, back to one that may precede a URL (``_BEFORE``: not a
#: letter, digit, ``@``, ``$`` nor ``#``), so that the domain of an e-mail address
#: (``@example.com``) does not fire on its own. Every character a host holds but this class
#: leaves out (ASCII controls) may precede a URL itself, so the condition stays necessary.
#: The exact TLD alternation would fire on fewer rows still, but compiling its 1,574 branches
#: costs 5 ms per batch, more than Python spends on the rest. Not the prefilter itself: in
#: the gate's combined pattern its host run makes RE2 build a larger automaton on each call.
_HOST_CHAR_RE2: Final = "[^\\x00-\\x2c/\\x3a-\\x40\\x5b-\\x5e`\\x7b-\\x7f]"
URL_HOST_END: Final = (
    f"(?:^|[^A-Za-z0-9@$#\uff20\uff03]){_HOST_CHAR_RE2}*\\."
    "(?:[A-Za-z]+(?:$|[^A-Za-z0-9@+\\-])|[A-Za-z]*[^\\x00-\\x7f]|[Xx][Nn]--)"
)


def _host_is_valid(url: str, protocol: str, domain: str) -> bool:
    """The host converts to ASCII (IDNA: labels of at most 63 characters, no bad code points)
    and the whole URL, so converted, is at most 4,096 characters."""
    if domain.isascii():  # IDNA leaves ASCII labels alone, only their length is checked
        if max(len(label) for label in domain.split(".")) > 63:
            return False
        return len(protocol) + len(url) <= MAX_URL_LENGTH
    try:
        ascii_domain = domain.encode("idna")
    except UnicodeError:
        return False
    if not ascii_domain:
        return False
    return len(protocol) + len(url) + len(ascii_domain) - len(domain) <= MAX_URL_LENGTH


def _sentence_run_on(host: str) -> bool:
    """``liegt.Mit``, ``arbiträr.Es``: a word, a full stop without its space, and the next
    sentence's first word, which happens to be a top-level domain. Hosts are written in lower
    case (or all in capitals); a capitalised last label after a single one is a sentence."""
    labels = host.split(".")
    tld = labels[-1]
    return len(labels) == 2 and len(tld) >= 2 and tld[0].isupper() and tld[1:].islower()


def extract_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) code-point offsets of the URLs in ``text``, following twitter-text."""
    urls: list[tuple[int, int]] = []
    pos = 0
    while True:
        # Every URL's host ends in a dot and a top-level domain, whose first character is a
        # letter (or, case-insensitively, a letter's case variant: a letter too), and holds no
        # space before it: start the (Python, position by position) search at the last space
        # before the next such dot, and skip it when none is left (a closing full stop).
        tld_dot = _DOT_LETTER.search(text, pos)
        if tld_dot is None:
            return urls
        dot = tld_dot.start()
        m = _compiled(URL).search(
            text, max(pos, text.rfind(" ", pos, dot), text.rfind("\n", pos, dot))
        )
        if m is None:
            return urls
        pos = m.end()
        url, protocol, domain, path = m["url"], m["protocol"], m["domain"], m["path"]
        start, end = m.start("url"), m.end("url")
        if not _host_is_valid(url, protocol or "https://", domain):
            continue
        if protocol:
            tco = _TCO.match(url)
            if tco is not None:
                if len(tco[1]) > MAX_TCO_SLUG_LENGTH:
                    continue
                end = start + tco.end()
            urls.append((start, end))
            continue
        # Without protocol: not after -, _, . or /, and only the ASCII labels of the host
        # count (a CJK word glued before "example.com" is not part of the link).
        if _NO_PROTOCOL_BAD_BEFORE.search(m["before"]):
            continue
        last: tuple[int, int] | None = None
        for a in _compiled(_ASCII_DOMAIN).finditer(domain):
            if _sentence_run_on(a[0]):
                continue
            last = (start + a.start(), start + a.end())
            urls.append(last)
        if last is not None and path:
            urls[-1] = (last[0], end)


class UrlDetector:
    """RE2 prefilter over the batch, twitter-text's extraction on the rows it fires on."""

    name: Final = "url"
    type: Final = "url"
    prefilter: Final = URL_PREFILTER
    needs: Final = "."  # before the top-level domain

    def find(self, texts: pa.StringArray) -> Found:
        found = FoundBuilder(self.type)
        may = pc.fill_null(pc.match_substring_regex(texts, URL_HOST_END), False)
        rows = np.flatnonzero(may.to_numpy(zero_copy_only=False))
        candidates = texts.take(pa.array(rows, pa.int64())).to_pylist()
        for row, text in zip(rows.tolist(), candidates, strict=True):
            if text is None:
                continue
            for start, end in extract_urls(text):
                found.add(row, text, start, end)
        return found.build()


URLS: Final = UrlDetector()
