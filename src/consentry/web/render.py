"""Templates rendered in the person's language, and the headers every privacy-center answer
carries: a Content-Security-Policy without inline script, no sniffing, no referrer, and no
caching of personal pages."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse

from consentry.web.config import CenterConfig
from consentry.web.i18n import NAMES, translations

TEMPLATES: Final = Path(__file__).parent / "templates"
STATIC: Final = Path(__file__).parent / "static"


def csp(config: CenterConfig) -> str:
    return (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none';"
        f" form-action 'self'; frame-ancestors {' '.join(config.frame_ancestors)}"
    )


def secure(headers: MutableHeaders, config: CenterConfig, *, personal: bool) -> None:
    headers["Content-Security-Policy"] = csp(config)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cache-Control"] = "no-store" if personal else "public, max-age=3600"


#: ``{{ _("a message") }}`` with no variables: its output is the same on every page of a language.
_CONSTANT = re.compile(r'\{\{-?\s*_\("((?:[^"\\]|\\.)*)"\)\s*-?\}\}')


class TranslatedLoader(FileSystemLoader):
    """The templates with each constant message already translated and escaped, so that the
    compiled template of a language outputs it as plain text, never a call per page. The files
    are unchanged: Babel extracts from them, and the messages with variables are looked up at
    render time."""

    def __init__(self, lang: str) -> None:
        super().__init__(TEMPLATES)
        self._catalogue = translations(lang)

    def _text(self, found: re.Match[str]) -> str:
        message = found.group(1).replace('\\"', '"').replace("\\\\", "\\")
        # Markup, as the runtime ``_`` makes it: the catalogue is trusted, its text not escaped.
        # The ``+`` keep lstrip_blocks and trim_blocks from eating the whitespace around it.
        return "{%+ raw %}" + (self._catalogue.gettext(message) % {}) + "{% endraw +%}"

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        return _CONSTANT.sub(self._text, source), filename, uptodate


@cache
def environment(lang: str) -> Environment:
    """One environment per language, its gettext installed once: nothing per request is shared."""
    env = Environment(
        loader=TranslatedLoader(lang),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalogue = translations(lang)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    # The extension's own ``_`` resolves ``gettext`` in the context, looks the message up and
    # formats it on every call: a hundred calls a page were a third of its rendering. Here a
    # message is looked up and formatted once per language; only those with variables are
    # formatted again. Same result: Markup, always %-formatted (``%%`` is ``%``).
    plain: dict[str, Markup] = {}

    def gettext(message: str, **variables: Any) -> Markup:
        if variables:
            return Markup(catalogue.gettext(message)) % variables
        found = plain.get(message)
        if found is None:
            found = plain[message] = Markup(catalogue.gettext(message)) % {}
        return found

    env.globals["gettext"] = env.globals["_"] = gettext

    @lru_cache(maxsize=4096)  # Babel's formatting costs ~50 µs; many entries share a moment
    def when(moment: datetime | None) -> str:
        return "" if moment is None else format_datetime(moment, "medium", locale=lang)

    env.filters["when"] = when
    env.globals["languages"] = NAMES
    return env


def gettext_of(lang: str) -> Any:
    return translations(lang).gettext


def render(template: str, lang: str, context: Mapping[str, Any]) -> str:
    return environment(lang).get_template(template).render(lang=lang, **context)


def respond(
    html: str, config: CenterConfig, *, status: int = 200, personal: bool = True
) -> HTMLResponse:
    response = HTMLResponse(html, status_code=status)
    secure(response.headers, config, personal=personal)
    return response


def page(
    template: str,
    lang: str,
    config: CenterConfig,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    personal: bool = True,
) -> HTMLResponse:
    return respond(render(template, lang, context), config, status=status, personal=personal)


class Rendered:
    """Pages already rendered, by everything that decides their text (the key), with the
    session's CSRF token left as ``MARK``: the page of a state seen before (every person still
    at the policy's defaults shares one; a person reloading their own) costs a dictionary
    lookup and a replace instead of a rendering. The least recently used go past ``size``."""

    #: Never a CSRF token (those are 43 base64url characters), never in a page's other text.
    MARK: Final = "{csrf-of-the-session}"

    def __init__(self, size: int) -> None:
        self._size = size
        self._pages: OrderedDict[Hashable, str] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], str], csrf: str) -> str:
        found = self._pages.get(key)
        if found is None:
            found = self._pages[key] = make()
            if len(self._pages) > self._size:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(key)
        return found.replace(self.MARK, csrf)
