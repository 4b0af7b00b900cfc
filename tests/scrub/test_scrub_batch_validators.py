"""Validators that decide for a whole batch at once (numpy, RE2) give the verdicts of the
plain reading of their rule, candidate by candidate: cards with ``stdnum``'s Luhn, IPv4
addresses with ``ipaddress``."""

from __future__ import annotations

import ipaddress
import re

import pyarrow as pa
from benchmarks.pii_eval_set import make_eval_set
from hypothesis import example, given
from hypothesis import strategies as st
from stdnum import luhn

from consentry.scrub import detect_spans
from consentry.scrub.detectors.blocks import joins_blocks
from consentry.scrub.detectors.cards import _NETWORKS, validate_card, validate_cards
from consentry.scrub.detectors.ips import IPV4_ADDRESS, validate_ipv6
from consentry.scrub.detectors.phones import PHONES, PhoneValidator
from consentry.scrub.marking import SENTINELS, _lengths, _may_hold, find_all
from consentry.scrub.registry import whole_when


def _issued(digits: str) -> bool:
    return any(
        len(digits) in lengths and low <= digits[: len(low)] <= high
        for low, high, lengths in _NETWORKS
    )


def _is_card(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")
    return _issued(digits) and luhn.is_valid(digits)


def reference(candidate: str) -> list[tuple[int, int]]:
    """The rule as written before it was vectorised: the whole candidate, else the first
    run of groups from each group on, longest first, never cut between four-digit blocks."""
    if _is_card(candidate):
        return [(0, len(candidate))]
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", candidate)]
    for i in range(len(groups)):
        if joins_blocks(candidate, groups, i - 1):
            continue
        for j in range(len(groups) - 1, i - 1, -1):
            digits = sum(e - s for s, e in groups[i : j + 1])
            if digits < 12:
                break
            if digits > 19 or joins_blocks(candidate, groups, j):
                continue
            if _is_card(candidate[groups[i][0] : groups[j][1]]):
                return [(groups[i][0], groups[j][1])]
    return []


def _with_luhn(body: str) -> str:
    return body + luhn.calc_check_digit(body)


_CARD = st.sampled_from(
    ["4", "51", "2221", "34", "37", "6011", "65", "35", "36", "62", "50"]
).flatmap(
    lambda prefix: st.integers(12, 19).flatmap(
        lambda n: st.text(
            "0123456789", min_size=max(n - len(prefix) - 1, 0), max_size=max(n - len(prefix) - 1, 0)
        ).map(lambda rest: _with_luhn(prefix + rest))
    )
)
_NUMBER = st.one_of(_CARD, st.text("0123456789", min_size=1, max_size=8))


@st.composite
def candidates(draw: st.DrawFn) -> str:
    """Numbers, cards among them, printed whole or in blocks of four, joined by spaces or
    hyphens: a candidate of the card detector (at least 12 digits)."""
    parts = []
    for number in draw(st.lists(_NUMBER, min_size=1, max_size=4)):
        if draw(st.booleans()):
            sep = draw(st.sampled_from([" ", "-"]))
            number = sep.join(number[i : i + 4] for i in range(0, len(number), 4))
        parts.append(number)
    text = parts[0]
    for part in parts[1:]:
        text += draw(st.sampled_from([" ", "-"])) + part
    digits = sum(c.isdigit() for c in text)
    return text if digits >= 12 else text + " " + "4111 1111 1111 1111"


@given(st.lists(candidates(), min_size=1, max_size=30))
def test_batch_verdicts_are_the_rules_candidate_by_candidate(batch: list[str]) -> None:
    idx, starts, ends = validate_cards(pa.array(batch, pa.string()))
    got: list[list[tuple[int, int]]] = [[] for _ in batch]
    for i, s, e in zip(idx.tolist(), starts.tolist(), ends.tolist(), strict=True):
        got[i].append((s, e))
    assert got == [reference(c) for c in batch]


def test_a_card_after_a_score_is_found_in_a_sliced_batch() -> None:
    """Candidates handed over as a slice of a larger array (offset buffers) read right."""
    batch = pa.array(["1234 5678 9012 3456 7890", "score 3-1 4111 1111 1111 1111"] * 2)
    sliced = batch.slice(1, 2)
    idx, starts, ends = validate_cards(
        pa.array(["4111 1111 1111 1111", "3-1 4111 1111 1111 1111", "0000 0000 0000"]).slice(1, 2)
    )
    assert (idx.tolist(), starts.tolist(), ends.tolist()) == ([0], [4], [23])
    assert validate_card("5555 5555 5555 4444") == [(0, 19)]
    assert validate_card("5555 5555 5555 4445") == []
    spans = detect_spans(sliced)
    assert [(s.type, s.value) for s in spans[0]] == [("card", "4111 1111 1111 1111")]


def _is_ipv4(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    return True


_OCTETS = st.one_of(st.integers(0, 300).map(str), st.text("0123456789", min_size=1, max_size=3))


@given(st.lists(st.lists(_OCTETS, min_size=4, max_size=4).map(".".join), min_size=1))
def test_ipv4_addresses_are_what_ipaddress_accepts(batch: list[str]) -> None:
    idx, starts, ends = whole_when(IPV4_ADDRESS)(pa.array(batch, pa.string()))
    assert idx.tolist() == [i for i, c in enumerate(batch) if _is_ipv4(c)]
    assert starts.tolist() == [0] * len(idx)
    assert ends.tolist() == [len(batch[i]) for i in idx.tolist()]


_HEXTETS = st.one_of(st.just(""), st.text("0123456789abcdefABCDEF", min_size=1, max_size=5))
_IPV6_LIKE = st.tuples(
    st.lists(_HEXTETS, min_size=1, max_size=10).map(":".join),
    st.one_of(st.just(""), st.lists(_OCTETS, min_size=1, max_size=4).map(".".join)),
).map(lambda parts: parts[0] + ("." + parts[1] if parts[1] and parts[0][-1:] != ":" else ""))


@given(_IPV6_LIKE)
@example("1:2:3:4:5:6:1.2.3.4")
@example("::ffff:192.168.1.1")
@example("15:26:04")
@example("1:2:3:4:5:6:7:8")
def test_ipv6_verdicts_are_ipaddress_s(candidate: str) -> None:
    """The shortcut before ``ipaddress`` (times refused by their colons) refuses nothing it
    accepts; and the groups rule comes on top."""
    try:
        ipaddress.IPv6Address(candidate)
        valid = True
    except ValueError:
        valid = False
    groups = [g for g in candidate.split(":") if g]
    expected = valid and len(groups) >= 2 and sum(len(g) for g in groups) >= 4
    assert bool(validate_ipv6(candidate)) == expected


@given(
    st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from("ab é\ufdd0\ufdd1\ufdef")))),
    st.integers(0, 3),
)
def test_the_sentinel_scan_misses_no_row_holding_one(texts: list[str | None], skip: int) -> None:
    """``marking`` skips its per-row sentinel check when a scan of the bytes finds none."""
    arr = pa.array(["\ufdd0"] * skip + texts, pa.string()).slice(skip)
    for sentinel in (SENTINELS[0], SENTINELS[1]):
        if any(t is not None and sentinel in t for t in texts):
            assert _may_hold(arr, sentinel)


_PHONE_PIECE = st.one_of(
    st.text("0123456789", min_size=1, max_size=5),
    st.sampled_from(["06", "0", "00", "+33", "+1", "(0)", "(415)", "(351)", "1", "8", "2024"]),
)


@st.composite
def phone_candidates(draw: st.DrawFn) -> str:
    """Digits in phone-like layouts (trunk prefixes, country codes, parentheses, dates,
    extensions), cut by the detector's separators."""
    pieces = draw(st.lists(_PHONE_PIECE, min_size=1, max_size=7))
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(st.sampled_from(["", " ", "-", ".", "/", " - ", ") ("])) + piece
    text = draw(st.sampled_from(["", "+", "(", "(+"])) + text
    if sum(c.isdigit() for c in text) < 8:
        text += " 12 34 56 78"
    return text + draw(st.sampled_from(["", "", " x12", " ext. 905", "X7"]))


@given(st.lists(phone_candidates(), min_size=1, max_size=25))
@example(["139 2024-07-26", "13 2024-07-26 9", "06 12 34 56 78", "(415) 555-2671"])
def test_phone_batch_is_the_validator_candidate_by_candidate(batch: list[str]) -> None:
    validator = PhoneValidator()
    idx, starts, ends = validator.batch(pa.array(batch, pa.string()))
    got: list[list[tuple[int, int]]] = [[] for _ in batch]
    for i, s, e in zip(idx.tolist(), starts.tolist(), ends.tolist(), strict=True):
        got[i].append((s, e))
    assert got == [list(validator(c)) for c in batch]


def test_phone_batch_on_the_independent_sets_candidates() -> None:
    """The layouts of Faker's ~60 locales, every candidate the detector's RE2 finds."""
    texts = [t.text for t in make_eval_set(1500, seed=7)]
    values = find_all(pa.array(texts, pa.string()), PHONES.pattern).values
    validator = PhoneValidator()
    idx, starts, ends = validator.batch(values)
    got: list[list[tuple[int, int]]] = [[] for _ in range(len(values))]
    for i, s, e in zip(idx.tolist(), starts.tolist(), ends.tolist(), strict=True):
        got[i].append((s, e))
    assert got == [list(validator(c)) for c in values.to_pylist()]
    assert sum(map(bool, got)) > 300


@given(st.lists(st.one_of(st.none(), st.text())), st.integers(0, 3))
def test_piece_lengths_are_arrows(texts: list[str | None], skip: int) -> None:
    """``marking`` counts code points and bytes from the buffers, as ``utf8_length`` does."""
    arr = pa.array(["é"] * skip + texts, pa.string()).slice(skip)
    cp, nb = _lengths(arr)
    assert cp.tolist() == [0 if t is None else len(t) for t in texts]
    assert nb.tolist() == [0 if t is None else len(t.encode("utf-8")) for t in texts]
