"""What the privacy center (``pages``) and the operator's console (``admin``) do alike with a
request: tell HTTPS, redirect, choose the language, switch it, read a posted form. Each
surface keeps its own prefix and cookie names; the rules are here once."""

from __future__ import annotations

import urllib.parse

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from consentry.web.config import CenterConfig
from consentry.web.i18n import LANGUAGES, choose
from consentry.web.render import secure

#: How long a language choice is kept: a year, like any preference.
LANGUAGE_MAX_AGE = 365 * 86400


def is_https(request: Request, config: CenterConfig) -> bool:
    """Whether the visitor's connection is HTTPS: the request's own scheme, or a proxy's
    ``X-Forwarded-Proto`` where the workspace says to trust it (``Secure`` cookies)."""
    if request.url.scheme == "https":
        return True
    forwarded = (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    return config.trust_forwarded_proto and forwarded == "https"


def redirect(location: str, config: CenterConfig) -> Response:
    """A 303 to ``location`` with the headers of a personal page (never cached)."""
    response = RedirectResponse(location, status_code=303)
    secure(response.headers, config, personal=True)
    return response


def language(request: Request, cookie: str) -> str:
    """The page's language: the visitor's choice (``cookie``), else ``Accept-Language``."""
    return choose(request.cookies.get(cookie), request.headers.get("accept-language"))


def switch_language(
    lang: str, request: Request, *, prefix: str, cookie: str, config: CenterConfig
) -> Response:
    """Keep ``lang`` (when it is one of ours) and go back to the page ``?next=`` names, which
    must be one of this surface's own: never an open redirect."""
    back = request.query_params.get("next") or prefix
    if not back.startswith(prefix) or back.startswith("//") or "\\" in back:
        back = prefix
    response = redirect(back, config)
    if lang in LANGUAGES:
        response.set_cookie(
            cookie, lang, max_age=LANGUAGE_MAX_AGE, path=prefix, httponly=True, samesite="lax"
        )
    return response


async def form_fields(request: Request) -> dict[str, str]:
    """A posted form's fields (the last value of a repeated one; an empty one kept empty,
    so that a blank CSRF token is refused as blank, not as missing)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
