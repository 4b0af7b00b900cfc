"""Every string of the console's templates and charts, and every text of the art. 30 record,
is in both ``admin`` catalogues, translated."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po

from consentry.report import document, ropa
from consentry.web.i18n import LANGUAGES, po_path, translations

_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}


def _wanted() -> set[str]:
    found = extract_from_dir(
        str(document.TEMPLATES / "admin"),
        method_map=[("**.html", "jinja2")],
        options_map={"**.html": _OPTIONS},
    )
    ids = {str(message) for _, _, message, _, _ in found}
    ids |= {str(m[1]) for m in extract_from_file("python", Path(document.__file__))}
    ids |= {ropa.TO_FILL, *ropa.SAFEGUARDS, *ropa.DATA_CATEGORIES.values()}
    return ids


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_is_in_the_admin_catalogue(lang: str) -> None:
    wanted = _wanted()
    assert len(wanted) > 100
    with po_path(lang, "admin").open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    translated = {m.id: m.string for m in catalog if m.id}
    assert not sorted(w for w in wanted if not translated.get(w))


def test_the_admin_catalogue_is_its_own() -> None:
    assert translations("fr", "admin").gettext("Snapshots") == "Instantanés"
    # The privacy center's catalogue is untouched by the console's.
    assert translations("fr").gettext("Snapshots") == "Snapshots"
