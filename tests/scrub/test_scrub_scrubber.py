"""scrub_array end to end: shape of the result, replacement, and invariants (Hypothesis)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.scrub import MentionResolver, Pseudonymiser, scrub_array, scrub_text
from consentry.scrub.marking import SENTINELS, find_all
from consentry.scrub.splice import splice

SECRET = b"s" * 32
RESOLVER = MentionResolver(["alice", "bob"], ["1001", "1002"], Pseudonymiser(SECRET, "acme"))


def test_replaces_each_type_with_its_placeholder() -> None:
    text = (
        "@carol écris à bob.martin@example.fr ou 06 12 34 56 78, carte 4111 1111 1111 1111, "
        "iban FR76 3000 6000 0112 3456 7890 189, ip 192.168.1.12, https://example.com/x #JO $TSLA"
    )
    assert scrub_text(text) == (
        "@<USER> écris à <EMAIL> ou <PHONE>, carte <CARD>, iban <IBAN>, ip <IP>, <URL> #JO $TSLA"
    )


def test_result_keeps_length_order_nulls_and_lists_types() -> None:
    texts = pa.array(["rien à signaler", None, "mail a@b.fr et @bob", "", "06 12 34 56 78 a@b.fr"])
    out = scrub_array(texts)
    assert out.text.to_pylist() == [
        "rien à signaler",
        None,
        "mail <EMAIL> et @<USER>",
        "",
        "<PHONE> <EMAIL>",
    ]
    assert out.pii.to_pylist() == [[], [], ["handle", "email"], [], ["email", "phone"]]
    assert out.counts == {
        "handle": 1,
        "url": 0,
        "email": 2,
        "phone": 1,
        "iban": 0,
        "card": 0,
        "ip": 0,
        "name": 0,
    }


def test_chunked_and_large_string_input() -> None:
    chunked = pa.chunked_array([["a@b.fr"], [], ["x", "@bob"]], type=pa.large_string())
    out = scrub_array(chunked)
    assert isinstance(out.text, pa.ChunkedArray)
    assert out.text.to_pylist() == ["<EMAIL>", "x", "@<USER>"]
    assert out.pii.to_pylist() == [["email"], [], ["handle"]]
    assert out.counts["email"] == 1 and out.counts["handle"] == 1


def test_rejects_non_string_input() -> None:
    with pytest.raises(TypeError, match="strings"):
        scrub_array(pa.array([1, 2]))


def test_platform_mentions_become_the_author_pseudonym() -> None:
    author = Pseudonymiser(SECRET, "acme").account("1001")
    assert scrub_text("RT @Alice: vu avec @dave", mentions=RESOLVER) == (
        f"RT @{author}: vu avec @<USER>"
    )


@pytest.mark.parametrize("n_sentinels", [1, len(SENTINELS)])
def test_texts_holding_the_internal_sentinels_are_still_scrubbed(n_sentinels: int) -> None:
    noise = "".join(SENTINELS[:n_sentinels])
    texts = pa.array([f"{noise} mail a@b.fr {noise}", "06 12 34 56 78", f"@bob{noise}"])
    out = scrub_array(texts).text.to_pylist()
    assert "a@b.fr" not in out[0] and "<EMAIL>" in out[0]
    assert out[1] == "<PHONE>"
    assert out[2].startswith("@<USER>")


def test_find_all_offsets_match_python() -> None:
    texts = pa.array(["é @a @bb", None, "@c", "x@d"])
    m = find_all(texts, "(^|[^A-Za-z0-9_@])(@[a-z]+)")
    assert m.rows.tolist() == [0, 0, 2]
    assert m.values.to_pylist() == ["@a", "@bb", "@c"]
    assert [(s, e) for s, e in zip(m.start.tolist(), m.end.tolist(), strict=True)] == [
        (2, 4),
        (5, 8),
        (0, 2),
    ]
    assert m.bstart.tolist() == [3, 6, 0]


@given(st.lists(st.text(max_size=12), min_size=1, max_size=8), st.data())
def test_splice_matches_python_slicing(texts: list[str], data: st.DataObject) -> None:
    rows, bstart, bend, repl, expected = [], [], [], [], list(texts)
    for i, t in enumerate(texts):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(t)), max_size=4)))
        pairs = list(zip(cuts[0::2], cuts[1::2], strict=False))
        new, last = "", 0
        for s, e in pairs:
            r = data.draw(st.text(max_size=4))
            new += t[last:s] + r
            last = e
            rows.append(i)
            bstart.append(len(t[:s].encode()))
            bend.append(len(t[:e].encode()))
            repl.append(r)
        expected[i] = new + t[last:]
    out = splice(
        pa.array(texts, pa.string()),
        np.array(rows, dtype=np.int64),
        np.array(bstart, dtype=np.int64),
        np.array(bend, dtype=np.int64),
        pa.array(repl, pa.string()),
    )
    assert out.to_pylist() == expected


# Text with nothing a detector could take: letters, spaces and light punctuation only.
plain_text = st.text(alphabet=st.sampled_from(list("abcdéèàù ,;!?'\nXYZ")), max_size=80)
any_text = st.text(max_size=80)


@given(plain_text)
def test_text_without_pii_is_untouched(text: str) -> None:
    out = scrub_array(pa.array([text]))
    assert out.text.to_pylist() == [text]
    assert out.pii.to_pylist() == [[]]


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(st.lists(any_text, max_size=5))
def test_scrubbing_is_idempotent(texts: list[str]) -> None:
    for mentions in (None, RESOLVER):
        once = scrub_array(pa.array(texts, pa.string()), mentions=mentions).text
        twice = scrub_array(once, mentions=mentions).text
        assert twice.to_pylist() == once.to_pylist()


emails = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z][a-z0-9._-]{0,10}[a-z0-9]", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True),
    st.sampled_from(["com", "fr", "org", "net", "de", "io"]),
)
CARDS = ["4111 1111 1111 1111", "5500-0055-5555-5559", "378282246310005", "6011000990139424"]
IBANS = [
    "FR76 3000 6000 0112 3456 7890 189",
    "DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
]


@given(plain_text, emails, st.sampled_from(CARDS), st.sampled_from(IBANS), plain_text)
def test_planted_emails_cards_and_ibans_are_removed(
    before: str, email: str, card: str, iban: str, after: str
) -> None:
    text = f"{before} {email} puis {card} et {iban} {after}"
    out = scrub_array(pa.array([text]))
    scrubbed = out.text.to_pylist()[0]
    for secret in (email, card, iban):
        assert secret not in scrubbed
    assert {"email", "card", "iban"} <= set(out.pii.to_pylist()[0])


@given(plain_text)
def test_scrubbing_never_lengthens_text_without_pii(text: str) -> None:
    assert len(scrub_text(text)) <= len(text)


def test_a_batch_imports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python ``str`` handed to a kernel made pyarrow try to import ``dateutil`` on every
    call (a search of the path each time where it is not installed): a fixed cost per
    detector per batch, a tenth of the scrubber's time on 5,000 short texts."""
    import builtins
    import sys

    texts = pa.array(
        ["call 06 12 34 56 78 or +33 6 12 34 56 78, card 4111 1111 1111 1111", "@bob 10.0.0.1"]
    )
    mentions = RESOLVER
    scrub_array(texts, mentions=mentions)  # imports done once are fine
    attempts: list[str] = []
    real_import = builtins.__import__

    def spy(name: str, *args: object, **kwargs: object) -> object:
        if name not in sys.modules:
            attempts.append(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", spy)
    result = scrub_array(texts, mentions=mentions)
    assert attempts == []
    assert result.counts["phone"] == 2
