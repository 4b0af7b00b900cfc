"""Where each account's public pages live, and what the platform says about search: the
``[signals]`` table of a workspace's ``config.toml``.

    [signals]
    profile = "/{handle}"               # an account's profile page
    post = "/{handle}/status/{id}"      # one of its posts
    search = "unstated"                 # or "y" / "n": the platform's word on search indexing

A pattern is a URL path: it starts with ``/`` and names the account once, by ``{handle}`` or by
``{account}`` (its id); ``{id}`` (a post's id) may follow. The pages under an account's part of
the pattern are the account's: that prefix is what robots.txt rules and the middleware match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from consentry.errors import WorkspaceError
from consentry.workspace import CONFIG_NAME, Workspace

Search = Literal["unstated", "y", "n"]
SEARCH_VALUES: Final[tuple[Search, ...]] = ("unstated", "y", "n")
DEFAULT_PROFILE: Final = "/{handle}"
DEFAULT_POST: Final = "/{handle}/status/{id}"
#: Placeholders that name the account, and the one that names a post.
ACCOUNT_KEYS: Final = ("handle", "account")
POST_KEY: Final = "id"
_PLACEHOLDER: Final = re.compile(r"\{([^{}]*)\}")
#: Characters a pattern's literal text may hold: a URL path's, without robots.txt's own
#: ``*`` and ``$`` (which would change what a rule matches) or whitespace and ``#``.
_LITERAL: Final = re.compile(r"^[A-Za-z0-9\-._~!&'()+,;=:@/%]*$")


@dataclass(frozen=True, slots=True)
class PagePattern:
    """One kind of public page: ``text`` as configured, split around its account placeholder."""

    name: str
    text: str
    #: ``handle`` or ``account``: what the account placeholder stands for.
    key: str
    before: str
    after: str

    @property
    def prefix_after(self) -> str:
        """What follows the account in the part every page of this kind shares (up to a post
        id): ``/status/`` of ``/{handle}/status/{id}``; '' for a profile page."""
        return self.after.split("{", 1)[0]

    @property
    def exact(self) -> bool:
        """Whether the pattern is one page per account (nothing variable after it)."""
        return "{" not in self.after

    def regex(self) -> re.Pattern[str]:
        """Matches a request path of this kind of page; group ``who`` is the account's part."""
        parts = [re.escape(self.before), r"(?P<who>[^/]+)"]
        for piece in re.split(r"(\{[^{}]*\})", self.after):
            parts.append(r"[^/]+" if piece.startswith("{") else re.escape(piece))
        return re.compile("".join(parts))


@dataclass(frozen=True, slots=True)
class SignalsConfig:
    pages: tuple[PagePattern, ...]
    search: Search = "unstated"

    @property
    def key(self) -> str:
        """What the patterns name accounts by (all of them name it the same way)."""
        return self.pages[0].key


def parse_pattern(name: str, text: object, where: str) -> PagePattern:
    """A page pattern checked; a ``WorkspaceError`` naming ``where`` and the key otherwise."""
    # "signals.KEY", not "[signals] KEY": the CLI prints messages as Rich markup.
    field = f"{where}: signals.{name}"
    if not isinstance(text, str) or not text.startswith("/"):
        raise WorkspaceError(f"{field} must be a URL path starting with '/' (got {text!r})")
    names = _PLACEHOLDER.findall(text)
    accounts = [n for n in names if n in ACCOUNT_KEYS]
    unknown = sorted({n for n in names if n not in (*ACCOUNT_KEYS, POST_KEY)})
    if unknown:
        raise WorkspaceError(
            f"{field}: unknown placeholder {{{unknown[0]}}} (known: {{handle}}, {{account}}, "
            "{id})"
        )
    if len(accounts) != 1:
        raise WorkspaceError(f"{field} must name the account once, by {{handle}} or {{account}}")
    key = accounts[0]
    before, after = text.split("{" + key + "}", 1)
    if "{" in before:
        raise WorkspaceError(f"{field}: {{id}} may only follow the account's placeholder")
    literal = _PLACEHOLDER.sub("", text)
    if "{" in literal or "}" in literal or not _LITERAL.match(literal):
        raise WorkspaceError(
            f"{field}: {text!r} holds a character a URL path or a robots.txt rule cannot carry"
        )
    if after and not after.startswith("/"):
        raise WorkspaceError(f"{field}: the account's placeholder must end a path segment")
    return PagePattern(name, text, key, before, after)


def parse_signals(raw: object, where: str) -> SignalsConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise WorkspaceError(f"{where}: signals must be a table")
    extra = sorted(set(raw) - {"profile", "post", "search"})
    if extra:
        raise WorkspaceError(f"{where}: signals has an unknown key {extra[0]!r}")
    pages = (
        parse_pattern("profile", raw.get("profile", DEFAULT_PROFILE), where),
        parse_pattern("post", raw.get("post", DEFAULT_POST), where),
    )
    if len({p.key for p in pages}) != 1:
        raise WorkspaceError(
            f"{where}: signals.profile and signals.post must name the account the same way"
        )
    search = raw.get("search", "unstated")
    if search not in SEARCH_VALUES:
        raise WorkspaceError(
            f"{where}: signals.search must be one of {', '.join(SEARCH_VALUES)} (got {search!r})"
        )
    return SignalsConfig(pages, search)


def load_signals_config(ws: Workspace) -> SignalsConfig:
    """The workspace's ``[signals]`` table (its defaults where absent)."""
    return parse_signals(ws.config_section("signals"), str(ws.root / CONFIG_NAME))
