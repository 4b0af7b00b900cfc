"""The mention resolver's handle lookup (sorted hashes, confirmed by the handle) against a
plain-Python dictionary built from the handles and ids as given (the resolver's own arrays are
what is under test, so the reference never reads them); also when every handle shares one hash."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consentry.content.hash_index as hash_index
from consentry.scrub.pseudonym import Pseudonymiser
from consentry.scrub.resolver import MentionResolver

HANDLES = st.one_of(st.none(), st.text("abAB_@", max_size=4))


def _reference(
    known: list[str | None], ids: list[str], asked: list[str | None]
) -> list[str | None]:
    """Case-insensitive, leading ``@`` dropped from the known handles, the first pair wins."""
    table: dict[str, str] = {}
    for handle, account in zip(known, ids, strict=True):
        if handle is not None:
            table.setdefault(handle.lstrip("@\uff20").lower(), account)
    return [None if a is None else table.get(a.lower()) for a in asked]


def _check(known: list[str | None], asked: list[str | None]) -> None:
    ids = [f"id{i}" for i in range(len(known))]
    pseudonymiser = Pseudonymiser(b"k" * 32)
    resolver = MentionResolver(known, ids, pseudonymiser)
    handles = pa.array(asked, pa.string())
    expected = _reference(known, ids, asked)
    assert resolver.account_ids(handles).to_pylist() == expected
    want = [
        None if e is None else pseudonymiser.accounts(pa.array([e], pa.string()))[0].as_py()
        for e in expected
    ]
    assert resolver.resolve(handles).to_pylist() == want


@settings(max_examples=100, deadline=None)
@given(st.lists(HANDLES, max_size=20), st.lists(HANDLES, max_size=20))
def test_lookup_equals_a_plain_dictionary(known: list[str | None], asked: list[str | None]) -> None:
    _check(known, asked)


@settings(max_examples=50, deadline=None)
@given(st.lists(HANDLES, max_size=20), st.lists(HANDLES, max_size=20))
def test_lookup_equals_a_plain_dictionary_when_hashes_collide(
    known: list[str | None], asked: list[str | None]
) -> None:
    def few_hashes(ids: pa.Array) -> np.ndarray:
        return np.asarray(pc.utf8_length(pc.fill_null(ids, "")), dtype=np.uint64) % np.uint64(2)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(hash_index, "hash_ids", few_hashes)
        _check(known, asked)
