"""The pages' languages: gettext catalogues (``locale/LANG/LC_MESSAGES/messages.po``, kept in
the repository) compiled with Babel at first use, and the language a request asks for."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path
from typing import Final

from babel import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).parent / "locale"
LANGUAGES: Final = ("en", "fr")
DEFAULT: Final = "en"
#: Each language named in itself, for the switch.
NAMES: Final = {"en": "English", "fr": "Français"}
LANG_COOKIE: Final = "consentry_lang"


def po_path(lang: str, domain: str = "messages") -> Path:
    """The ``.po`` file of ``lang``; ``domain`` names the catalogue (``messages`` for the
    privacy center, ``admin`` for the operator's console and report)."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


@cache
def translations(lang: str, domain: str = "messages") -> gettext.GNUTranslations:
    """The catalogue ``domain`` of ``lang``, compiled in memory from its ``.po`` file."""
    with po_path(lang, domain).open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _ranked(accept_language: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if tag and q > 0:
            weighted.append((-q, i, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The switch's choice (cookie), else the best of ``Accept-Language``, else English."""
    if cookie in LANGUAGES:
        return cookie
    preferred = _ranked(accept_language or "")
    # A region (fr-CA) counts for its language; babel matches the tags case-insensitively.
    preferred += [tag.split("-")[0] for tag in preferred]
    found = negotiate_locale(preferred, list(LANGUAGES), sep="-")
    return found if found in LANGUAGES else DEFAULT
