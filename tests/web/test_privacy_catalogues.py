"""Every string of the templates, and every purpose description of the default policy, is in
both catalogues, translated; the catalogues compile."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from consentry.web.i18n import LANGUAGES, po_path, translations
from consentry.web.render import TEMPLATES

_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}


def _template_ids() -> set[str]:
    found = extract_from_dir(
        str(TEMPLATES), method_map=[("**.html", "jinja2")], options_map={"**.html": _OPTIONS}
    )
    return {str(message) for _, _, message, _, _ in found}


def _policy_descriptions() -> set[str]:
    text = resources.files("consentry.policy").joinpath("default.toml").read_text("utf-8")
    return {p["description"] for p in tomllib.loads(text)["purposes"].values()}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_is_in_the_catalogue(lang: str) -> None:
    wanted = _template_ids() | _policy_descriptions()
    assert len(wanted) > 50  # the extraction saw the templates
    with po_path(lang).open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    translated = {m.id: m.string for m in catalog if m.id}
    missing = sorted(w for w in wanted if not translated.get(w))
    assert not missing, missing
    assert not [m.id for m in catalog if m.id and m.fuzzy]


def test_french_is_french() -> None:
    assert translations("fr").gettext("Refuse everything") == "Tout refuser"
    assert translations("en").gettext("Refuse everything") == "Refuse everything"
