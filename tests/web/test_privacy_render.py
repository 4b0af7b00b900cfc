"""The fast rendering is the same rendering: templates whose constant messages were translated
when compiled give, byte for byte, what Jinja's own i18n extension gives at render time; the
cache of rendered pages hands each session its own CSRF token and forgets the oldest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape

from consentry.web.i18n import LANGUAGES, translations
from consentry.web.render import TEMPLATES, Rendered, environment


def _reference(lang: str) -> Environment:
    """The plain Jinja i18n environment: every message looked up while rendering."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = environment(lang).filters["when"]
    env.globals["languages"] = environment(lang).globals["languages"]
    return env


MOMENT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
CASES: list[tuple[str, dict[str, Any]]] = [
    ("signin.html", {"failed": True}),
    ("signin.html", {"expired": True}),
    ("signin.html", {"signed_out": True}),
    *[
        ("error.html", {"problem": p, "signed_in": True, "csrf": "t", "here": "/privacy"})
        for p in ("csrf", "erased", "not-yours", "rate", "unknown", "bad-form")
    ],
    ("erase.html", {"signed_in": True, "csrf": "t", "unconfirmed": True, "page_id": "erase"}),
    (
        "receipt.html",
        {
            "signed_in": True,
            "csrf": "t",
            "page_id": "receipt",
            "json_link": "/privacy/receipt.json?first=3&last=3",
            "doc": {
                "entries": [
                    {"seq": 3, "hash": "ab" * 32, "purpose": "train", "scope": "posts",
                     "recipient": None, "decision": "grant"},
                ],
                "head": "3:" + "ab" * 32,
                "verify": "consentry ledger verify --against 3:" + "ab" * 32,
            },
        },
    ),
    (
        "rights.html",
        {"signed_in": True, "csrf": "t", "page_id": "rights", "history": [], "erased": None},
    ),
]  # fmt: skip


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("template", "context"), CASES)
def test_compiled_translations_render_what_jinja_i18n_renders(
    lang: str, template: str, context: dict[str, Any]
) -> None:
    ours = environment(lang).get_template(template).render(lang=lang, **context)
    theirs = _reference(lang).get_template(template).render(lang=lang, **context)
    assert ours == theirs
    if lang != "en":  # the comparison saw translated text, not two untranslated pages
        assert ours != environment("en").get_template(template).render(lang=lang, **context)


def test_each_session_gets_its_own_token_in_a_shared_page() -> None:
    cache = Rendered(2)
    made: list[str] = []

    def make() -> str:
        made.append("x")
        return f'<input name="csrf" value="{Rendered.MARK}"><p>{len(made)}</p>'

    first = cache.get("defaults", make, "token-a")
    second = cache.get("defaults", make, "token-b")
    assert first == '<input name="csrf" value="token-a"><p>1</p>'
    assert second == '<input name="csrf" value="token-b"><p>1</p>'  # rendered once
    assert len(made) == 1


def test_the_least_recently_used_page_goes_first() -> None:
    cache = Rendered(2)
    count = {"n": 0}

    def make() -> str:
        count["n"] += 1
        return str(count["n"])

    assert cache.get("a", make, "t") == "1"
    assert cache.get("b", make, "t") == "2"
    assert cache.get("a", make, "t") == "1"  # a is now the most recent
    assert cache.get("c", make, "t") == "3"  # b goes
    assert cache.get("a", make, "t") == "1"
    assert cache.get("b", make, "t") == "4"  # rendered again
