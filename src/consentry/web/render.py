"""Templates rendered in the person's language, and the headers every privacy-center answer
carries: a Content-Security-Policy without inline script, no sniffing, no referrer, and no
caching of personal pages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, select_autoescape
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


@cache
def environment(lang: str) -> Environment:
    """One environment per language, its gettext installed once: nothing per request is shared."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]

    def when(moment: datetime | None) -> str:
        return "" if moment is None else format_datetime(moment, "medium", locale=lang)

    env.filters["when"] = when
    env.globals["languages"] = NAMES
    return env


def gettext_of(lang: str) -> Any:
    return translations(lang).gettext


def page(
    template: str,
    lang: str,
    config: CenterConfig,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    personal: bool = True,
) -> HTMLResponse:
    html = environment(lang).get_template(template).render(lang=lang, **context)
    response = HTMLResponse(html, status_code=status)
    secure(response.headers, config, personal=personal)
    return response
