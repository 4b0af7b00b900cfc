"""The RSL 1.0 grammar check (``consentry.models.rsl.check_rsl``, written from RSL-SPEC-1.0,
https://rslstandard.org/rsl) against documents it must accept (the specification's own
examples) and refuse (each breaking one rule), and the document the plans make."""

from __future__ import annotations

import pytest

from consentry.api.plans import Plan
from consentry.errors import WorkspaceError
from consentry.models.rsl import check_rsl, rsl_document, rsl_settings

NS = 'xmlns="https://rslstandard.org/rsl"'
#: The specification's site-wide example, and a licence permitting AI input with nothing asked.
SPEC_EXAMPLES = [
    f'<rsl {NS}><content url="/"><license><prohibits type="usage">ai-all</prohibits>'
    "</license></content></rsl>",
    f'<rsl {NS}><content url="/"><license><permits type="usage">ai-input</permits></license>'
    "</content></rsl>",
    f'<rsl {NS}><content url="https://example.com/news/*"><license>'
    '<permits type="usage">ai-train,search</permits><permits type="geo">FR DE</permits>'
    '<payment type="purchase"><amount currency="EUR">10.50</amount></payment>'
    "</license></content></rsl>",
]
BROKEN = {
    "another namespace": '<rsl xmlns="https://example.com/rsl"><content url="/"/></rsl>',
    "no content": f"<rsl {NS}></rsl>",
    "content without url": f"<rsl {NS}><content><license/></content></rsl>",
    "content without license": f'<rsl {NS}><content url="/"></content></rsl>',
    "the draft's token": f'<rsl {NS}><content url="/"><license><permits type="usage">train-ai'
    "</permits></license></content></rsl>",
    "unknown permit type": f'<rsl {NS}><content url="/"><license><permits type="time">x'
    "</permits></license></content></rsl>",
    "bad currency": f'<rsl {NS}><content url="/"><license><payment type="subscription">'
    '<amount currency="euro">1.00</amount></payment></license></content></rsl>',
    "not a decimal": f'<rsl {NS}><content url="/"><license><payment type="use">'
    '<amount currency="EUR">1,00</amount></payment></license></content></rsl>',
    "two payments": f'<rsl {NS}><content url="/"><license><payment type="free"/>'
    '<payment type="free"/></license></content></rsl>',
    "unknown payment": f'<rsl {NS}><content url="/"><license><payment type="barter"/>'
    "</license></content></rsl>",
    "the same asset twice": f'<rsl {NS}><content url="/"><license/></content>'
    '<content url="/"><license/></content></rsl>',
    "not XML": "<rsl",
}


@pytest.mark.parametrize("document", SPEC_EXAMPLES)
def test_the_specifications_examples_conform(document: str) -> None:
    assert check_rsl(document.encode()) == []


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_rule_is_named(name: str) -> None:
    assert check_rsl(BROKEN[name].encode()), name


def test_the_plans_document_conforms_and_is_deterministic() -> None:
    plans = [Plan("b", 105, 10, 1, 60), Plan("a", 250_000, 10, 1, 60)]
    first = rsl_document(plans, "EUR", "https://example.com/terms")
    assert check_rsl(first) == []
    assert rsl_document(list(reversed(plans)), "EUR", "https://example.com/terms") == first
    text = first.decode()
    assert text.index(">2500.00<") < text.index(">1.05<")  # plans by name
    assert '<amount currency="EUR">' in text and "<terms>https://example.com/terms</terms>" in text
    # No plan: AI training is not on offer, and the document says so, still valid.
    empty = rsl_document([])
    assert check_rsl(empty) == [] and b"<prohibits" in empty


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"currency": "euro"}, "rsl.currency"),
        ({"terms": "http://plain"}, "rsl.terms"),
        ({"price": 1}, "rsl.price"),
        ("EUR", "[rsl] must be a table"),
    ],
)
def test_bad_settings_name_their_key(section: object, message: str) -> None:
    with pytest.raises(WorkspaceError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rsl_settings(section)
    assert rsl_settings(None) == ("USD", None)
