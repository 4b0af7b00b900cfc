"""Database URLs: what of one may be shown (``redact``), and the form libpq is given.

A password can hide in a URL's userinfo (raw ``@`` and ``/`` included), in its query
(``?password=``, ``&sslpassword=``), or in a libpq ``key=value`` string (quoted or not); a
``passfile`` says where one is kept. Driver errors may echo any of it, whole or in part, so
messages about a database pass through ``redact_text`` with the URL that was used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final
from urllib.parse import unquote

MASK: Final = "***"
#: libpq parameters whose value is a secret, or says where one is kept.
SECRET_KEYS: Final = frozenset({"password", "passfile", "sslpassword"})
#: Shorter secrets are not searched for in free text: they would mangle it and hide little.
_MIN_ECHO: Final = 3
_USERINFO: Final = re.compile(r"(://[^:/?#@\s]*:)[^\s?#]*@")
_KEYWORD: Final = re.compile(
    r"(?i)(?<![\w.])((?:ssl)?pass(?:word|file)\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&'\"]+)"
)
_DSN_PAIR: Final = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'?|\S+)")


def _split(url: str) -> tuple[str, str, str] | None:
    """``scheme://`` + userinfo + the rest: userinfo ends at the last ``@`` before the query,
    so that a raw ``@`` or ``/`` in a password stays in the password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    authority = rest.split("?", 1)[0].split("#", 1)[0]
    userinfo, at, _ = authority.rpartition("@")
    if not at or authority.startswith("/"):  # sqlite:////path: a path, no authority
        return f"{scheme}{sep}", "", rest
    return f"{scheme}{sep}", userinfo, rest[len(userinfo) :]


def _secrets(url: str) -> Iterator[str]:
    """The secret values in ``url``, as written and percent-decoded."""
    parts = _split(url)
    if parts is not None:
        _, userinfo, rest = parts
        _, colon, password = userinfo.partition(":")
        if colon:
            yield password
        query = rest.partition("?")[2].partition("#")[0]
        for pair in query.split("&"):
            key, eq, value = pair.partition("=")
            if eq and unquote(key).lower() in SECRET_KEYS:
                yield value
    else:
        for match in _DSN_PAIR.finditer(url):
            if match[1].lower() in SECRET_KEYS:
                value = match[2]
                if value.startswith("'"):
                    value = re.sub(r"\\(.)", r"\1", value[1:].removesuffix("'"))
                yield value


def redact_text(text: str, url: str | None = None) -> str:
    """``text`` (a message, a driver's error) with every password form hidden, and, when the
    ``url`` it is about is given, every echo of that URL's secrets."""
    if url is not None:
        found = {s for raw in _secrets(url) for s in (raw, unquote(raw))}
        for secret in sorted(found, key=len, reverse=True):
            if len(secret) >= _MIN_ECHO:
                text = text.replace(secret, MASK)
    text = _USERINFO.sub(rf"\g<1>{MASK}@", text)
    return _KEYWORD.sub(rf"\g<1>{MASK}", text)


def redact(url: str) -> str:
    """The URL with every password (and passfile) hidden, for messages and logs."""
    return redact_text(url, url)


def libpq_url(url: str) -> str:
    """``url`` with ``@``, ``/`` and ``#`` in its userinfo percent-encoded: libpq splits the
    userinfo at the first ``@``, and would read the rest of a password as the host."""
    parts = _split(url)
    if parts is None or not parts[1] or not url.startswith(("postgresql://", "postgres://")):
        return url
    head, userinfo, rest = parts
    encoded = userinfo
    for char, code in (("@", "%40"), ("/", "%2F"), ("#", "%23")):
        encoded = encoded.replace(char, code)
    return f"{head}{encoded}{rest}"
