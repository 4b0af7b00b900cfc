"""The mention resolver's handle lookup (sorted hashes, confirmed by the handle) against
``pc.index_in``, the definition it replaced; also when every handle shares one hash."""

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


def _reference(resolver: MentionResolver, handles: pa.Array) -> list[str | None]:
    idx = pc.index_in(pc.utf8_lower(handles), value_set=resolver._handles.values)
    return resolver._ids.take(idx).to_pylist()  # type: ignore[no-any-return]


def _check(known: list[str | None], asked: list[str | None]) -> None:
    ids = [f"id{i}" for i in range(len(known))]
    resolver = MentionResolver(known, ids, Pseudonymiser(b"k" * 32))
    handles = pa.array(asked, pa.string())
    assert resolver.account_ids(handles).to_pylist() == _reference(resolver, handles)
    pseudonyms = resolver.resolve(handles).to_pylist()
    expected = _reference(resolver, handles)
    assert [p is None for p in pseudonyms] == [e is None for e in expected]


@settings(max_examples=100, deadline=None)
@given(st.lists(HANDLES, max_size=20), st.lists(HANDLES, max_size=20))
def test_lookup_equals_index_in(known: list[str | None], asked: list[str | None]) -> None:
    _check(known, asked)


@settings(max_examples=50, deadline=None)
@given(st.lists(HANDLES, max_size=20), st.lists(HANDLES, max_size=20))
def test_lookup_equals_index_in_when_hashes_collide(
    known: list[str | None], asked: list[str | None]
) -> None:
    def few_hashes(ids: pa.Array) -> np.ndarray:
        return np.asarray(pc.utf8_length(pc.fill_null(ids, "")), dtype=np.uint64) % np.uint64(2)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(hash_index, "hash_ids", few_hashes)
        _check(known, asked)
