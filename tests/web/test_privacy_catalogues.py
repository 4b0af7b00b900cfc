"""Every string of the templates, and every purpose description of the default policy, is in
both catalogues, translated; the catalogues compile."""

from __future__ import annotations

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from consentry.errors import PolicyError
from consentry.policy.loader import default_policy_text, load_policy, parse_policy
from consentry.web.i18n import LANGUAGES, po_path, translations
from consentry.web.render import TEMPLATES

_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}


def _template_ids() -> set[str]:
    found = extract_from_dir(
        str(TEMPLATES),
        # The console's templates have their own catalogue (admin.po, tests/report).
        method_map=[("admin/**.html", "ignore"), ("**.html", "jinja2")],
        options_map={"**.html": _OPTIONS},
    )
    return {str(message) for _, _, message, _, _ in found}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_is_in_the_catalogue(lang: str) -> None:
    wanted = _template_ids()
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


def test_the_default_policy_describes_every_purpose_in_every_language() -> None:
    policy = load_policy()
    for purpose in policy.purposes:
        for lang in LANGUAGES:
            if lang != "en":
                assert policy.translations[purpose][lang].strip(), (purpose, lang)
    assert policy.description("train", "fr") != policy.description("train", "en")
    assert policy.description("train", "de") == policy.purposes["train"]  # no German: English


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('[descriptions.french]\ntrain = "x"', "descriptions.french"),
        ('[descriptions.de]\ntrain = ""', "descriptions.de.train"),
        ("[descriptions.de]\ntrain = 3", "descriptions.de.train"),
        ('[descriptions.de]\nastrology = "x"', "descriptions.de.astrology"),
    ],
)
def test_a_bad_description_is_a_policy_problem(line: str, key: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(f"{default_policy_text()}\n{line}\n", source="test.toml")
    assert key in str(caught.value)
