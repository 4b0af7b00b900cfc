"""The census's fast paths against their plain definitions: text normalisation that skips the
rows a kernel cannot change, and settling spilled to disk (duplicates per hash partition,
reposts found by streaming keys) against an in-memory reference."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.model import Reason
from consentry.snapshot import census as census_module
from consentry.snapshot.census import (
    CENSUS_COLUMNS,
    Census,
    content_keys,
    normalised_text,
    take_census,
)
from consentry.snapshot.reposts import KeyFilter

# Whitespace of every sort NFKC or \s knows, letters that case-fold or decompose, marks and
# jamo that compose with the character before them, a character that is already NFKC.
ALPHABET = st.sampled_from(
    [
        *"aB é\t\n\r\x0b\x0c",
        "\u00a0",
        "\u3000",
        "\u2003",
        "\ufb01",
        "\u212b",
        "Σ",
        "ß",
        "\u0301",
        "\u0327",
        "\u1100",
        "\u1161",
        "\u11a8",
        "\u4e2d",
    ]
)


def _reference(text: Any) -> Any:
    folded = pc.utf8_lower(pc.utf8_normalize(text, "NFKC"))
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(folded, r"\s+", " "))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=12)), max_size=30))
def test_normalised_text_equals_its_definition(texts: list[str | None]) -> None:
    arr = pa.array(texts, pa.string())
    assert normalised_text(arr).to_pylist() == _reference(arr).to_pylist()
    chunked = pa.chunked_array([arr, arr], pa.string())
    assert normalised_text(chunked).to_pylist() == _reference(chunked).to_pylist()


class _AllEligible:
    """A stand-in for the ledger's state index: every item eligible, authorised by entry 7."""

    purpose = "train"
    recipient = False


def _batches(n: int, texts: list[str], batch: int) -> list[pa.RecordBatch]:
    rng = np.random.default_rng(3)
    kinds = rng.choice(["post", "post", "repost"], n)
    table = pa.table(
        {
            "content_id": [f"c{i}" for i in range(n)],
            "author_id": ["a"] * n,
            "kind": kinds,
            "visibility": ["public"] * n,
            "deleted_at": pa.nulls(n, pa.timestamp("us", tz="UTC")),
            "created_at": pa.array(rng.integers(0, 5, n), pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "text": rng.choice(texts, n),
            # originals: earlier, later, missing or none at all
            "repost_of": [
                None if i % 7 == 0 else f"c{int(rng.integers(0, n + 3))}" for i in range(n)
            ],
            "in_reply_to": [
                f"c{int(rng.integers(0, n + 3))}" if i % 3 == 0 else None for i in range(n)
            ],
            "quote_of": [
                f"c{int(rng.integers(0, n + 3))}" if i % 4 == 1 else None for i in range(n)
            ],
        }
    )
    out: list[pa.RecordBatch] = table.select(list(CENSUS_COLUMNS)).to_batches(max_chunksize=batch)
    return out


def _census(
    monkeypatch: pytest.MonkeyPatch, batches: list[pa.RecordBatch], tmp: Path, **kw: Any
) -> Census:
    reasons_seen: list[int] = []

    def fake_verdicts(frame: Any, *a: Any, **k: Any) -> Any:
        n = len(frame["consent_seq"])
        # Every 5th item excluded (not public): its text must not count as a duplicate's first.
        out = np.zeros(n, dtype=np.int8)
        out[np.arange(len(reasons_seen), len(reasons_seen) + n) % 5 == 4] = Reason.NOT_PUBLIC
        reasons_seen.extend(out.tolist())
        return out

    class Index(_AllEligible):
        def frame(self, items: pa.Table) -> dict[str, Any]:
            n = items.num_rows
            return {
                "consent_seq": pa.array([7] * n, pa.int64()),
                "birth_date": pa.array([date(1990, 1, 1)] * n),
            }

    monkeypatch.setattr(census_module, "verdicts", fake_verdicts)
    return take_census(batches, Index(), None, on=date(2025, 1, 1), spill_dir=tmp, **kw)  # type: ignore[arg-type]


def _reference_census(batches: list[pa.RecordBatch]) -> np.ndarray[Any, Any]:
    """The settling rules in plain Python over the whole input at once."""
    table = pa.Table.from_batches(batches)
    rows = table.to_pylist()
    reasons = [Reason.NOT_PUBLIC if i % 5 == 4 else Reason.ELIGIBLE for i in range(len(rows))]
    norm = normalised_text(table["text"]).to_pylist()
    keys = content_keys(table["content_id"])
    first: dict[str, int] = {}
    for i in sorted(
        range(len(rows)), key=lambda i: (rows[i]["created_at"], int(keys[i]))
    ):  # earliest, then smallest key
        if reasons[i] != Reason.ELIGIBLE or rows[i]["kind"] == "repost":
            continue
        if norm[i] in first:
            reasons[i] = Reason.DUPLICATE
        else:
            first[norm[i]] = i
    where: dict[str, int] = {}
    for i, r in enumerate(rows):
        where.setdefault(r["content_id"], i)
    reposts = [
        i for i, r in enumerate(rows) if r["kind"] == "repost" and reasons[i] == Reason.ELIGIBLE
    ]
    # Simultaneously, round after round until nothing changes: an original that is itself a
    # repost may change meanwhile, and a chain of reposts settles one link per round.
    for _ in range(len(reposts) + 1):
        taken = [
            Reason.ORIGINAL_UNAVAILABLE
            if rows[i]["repost_of"] not in where
            else reasons[where[rows[i]["repost_of"]]]
            for i in reposts
        ]
        if all(reasons[i] == reason for i, reason in zip(reposts, taken, strict=True)):
            break
        for i, reason in zip(reposts, taken, strict=True):
            reasons[i] = reason
    return np.array(reasons, dtype=np.int8)


@pytest.mark.parametrize("read_chunk", [1 << 20, 7, 50])
def test_spilled_census_settles_like_the_whole_input_in_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, read_chunk: int
) -> None:
    monkeypatch.setattr(census_module, "READ_CHUNK", read_chunk)
    texts = ["Hello", "hello ", "HELLO\t", "other", "o ther", "x", "ﬁne", "fine"]
    batches = _batches(600, texts, batch=37)
    census = _census(monkeypatch, batches, tmp_path)
    reference = _reference_census(batches)
    assert census.rows == 600
    assert census.consent_entry.dtype == np.int64 and (census.consent_entry == 7).all()
    np.testing.assert_array_equal(census.reasons, reference)
    # Settled verdicts are read back from disk by range, and counted per reason in slices.
    assert census.reasons.dtype == np.int8
    np.testing.assert_array_equal(census.reasons_between(37, 111), reference[37:111])
    assert census.included == int(np.count_nonzero(reference == Reason.ELIGIBLE))
    expected_counts = {
        Reason(r).code: int(n) for r, n in enumerate(np.bincount(reference)) if r and n
    }
    assert census.counts() == expected_counts
    table = pa.Table.from_batches(batches)
    keys = content_keys(table["content_id"])
    np.testing.assert_array_equal(census.included_keys, np.sort(keys[reference == Reason.ELIGIBLE]))
    _assert_references(census, table, reference)
    assert list(tmp_path.iterdir()) == []  # the spill folder is gone


def _assert_references(census: Census, table: pa.Table, reference: Any) -> None:
    """What pass 2 asks: of each included item, which of its references are included too."""
    ids = table["content_id"].to_pylist()
    rows = np.nonzero(reference == Reason.ELIGIBLE)[0].astype(np.int64)
    inside = {ids[i] for i in rows}
    expected = [
        [table[name][int(r)].as_py() in inside for name in ("in_reply_to", "quote_of", "repost_of")]
        for r in rows
    ]
    got = census.parents_included(rows)
    assert got.shape == (len(rows), 3)
    assert got.tolist() == expected


def test_references_between_included_items_are_known_without_the_included_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(census_module, "READ_CHUNK", 13)
    batches = _batches(500, [f"text {i}" for i in range(400)], batch=41)
    census = _census(monkeypatch, batches, tmp_path)
    reference = _reference_census(batches)
    np.testing.assert_array_equal(census.reasons, reference)
    _assert_references(census, pa.Table.from_batches(batches), reference)
    got = census.parents_included(np.nonzero(reference == Reason.ELIGIBLE)[0])
    # Every column has references that are in the snapshot and references that are not.
    assert got.any(axis=0).all() and not got.all(axis=0).any()
    census.forget_included_keys()
    assert len(census.included_keys) == 0
    np.testing.assert_array_equal(census.parents_included(np.nonzero(reference == 0)[0]), got)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=200),
    st.lists(st.integers(0, 2**64 - 1), max_size=200),
)
def test_key_filter_never_misses_a_key_of_its_set(members: list[int], others: list[int]) -> None:
    keys = np.array(members, dtype=np.uint64)
    maybe = KeyFilter(keys)
    assert maybe.may_hold(keys).all()
    asked = np.array(others + members, dtype=np.uint64)
    held = maybe.may_hold(asked)
    assert held[len(others) :].all()
    assert held.dtype == np.bool_ and len(held) == len(asked)
