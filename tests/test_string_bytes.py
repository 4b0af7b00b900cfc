"""A string array's bytes as numpy: which rows hold a byte of some kind, against Python's own
reading of the same strings (slices, nulls, empty rows, characters of every UTF-8 length)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.string_bytes import StringBytes

CASES = [
    # (texts, rows beyond ASCII)
    ([], []),
    ([""], [False]),
    (["plain", "café", None, "", "x"], [False, True, False, False, False]),
    (["", "", "é"], [False, False, True]),
    (["é", "", ""], [True, False, False]),
    (["𝔘𝔫𝔦", "abc", "日本"], [True, False, True]),
    ([None, None], [False, False]),
]


@pytest.mark.parametrize(("texts", "expected"), CASES)
def test_rows_beyond_ascii(texts: list[str | None], expected: list[bool]) -> None:
    got = StringBytes.of(pa.array(texts, pa.string())).non_ascii_rows()
    assert got.tolist() == expected


def test_a_slice_is_read_from_its_own_bytes() -> None:
    whole = pa.array(["é", "ab", "cd", "ü", "ef"], pa.string())
    sliced = StringBytes.of(whole.slice(1, 3))
    assert len(sliced) == 3
    assert bytes(sliced.data) == "abcdü".encode()
    assert sliced.offsets.tolist() == [0, 2, 4, 6]
    assert sliced.non_ascii_rows().tolist() == [False, False, True]


def test_only_strings() -> None:
    with pytest.raises(TypeError, match="must be strings"):
        StringBytes.of(pa.array([1, 2]))


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=12),
    start=st.integers(0, 4),
    byte=st.sampled_from(b"@ #a\t"),
)
def test_rows_holding_a_byte_are_those_python_finds_it_in(
    texts: list[str | None], start: int, byte: int
) -> None:
    array = pa.array(texts, pa.string()).slice(min(start, len(texts)))
    values = array.to_pylist()
    got = StringBytes.of(array)
    assert got.rows_with(got.data == byte).tolist() == [
        v is not None and chr(byte) in v for v in values
    ]
    assert got.non_ascii_rows().tolist() == [
        v is not None and any(ord(c) > 127 for c in v) for v in values
    ]
    assert np.array_equal(np.diff(got.offsets), [len((v or "").encode()) for v in values])


def test_an_array_without_buffers_has_no_bytes() -> None:
    empty = pa.array([], pa.string())
    assert len(StringBytes.of(empty.slice(0, 0))) == 0
    assert StringBytes.of(pa.nulls(0, pa.string())).non_ascii_rows().tolist() == []
    nulls = StringBytes.of(pa.nulls(3, pa.string()))
    assert nulls.offsets.tolist() == [0, 0, 0, 0] and len(nulls.data) == 0


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (pa.array(["a"], pa.large_string()), ["a"]),
        (pa.array(["a", "a"]).dictionary_encode(), ["a", "a"]),
        (pa.nulls(2), [None, None]),
    ],
)
def test_string_like_arrays_are_read_as_strings(
    texts: pa.Array, expected: list[str | None]
) -> None:
    from consentry.string_bytes import as_strings

    got = as_strings(texts)
    assert got.type == pa.string() and got.to_pylist() == expected


def test_other_arrays_are_not_strings() -> None:
    from consentry.string_bytes import as_strings

    with pytest.raises(TypeError, match="must be strings"):
        as_strings(pa.array([1]))
