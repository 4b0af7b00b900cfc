"""``KeySet``: a growing set of strings looked up a batch at a time, exact whatever the hashes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import consentry.content.hash_index as hash_index
from consentry.platform.keyset import KeySet

batches = st.lists(st.lists(st.text(max_size=6), max_size=30), max_size=12)


def run_batches(batch_list: list[list[str]]) -> None:
    known = KeySet()
    seen: set[str] = set()
    for batch in batch_list:
        found = known.contains(pa.array(batch, pa.string()))
        assert found.tolist() == [k in seen for k in batch]
        new = sorted({k for k in batch if k not in seen})
        known.add(pa.array(new, pa.string()))
        seen.update(new)
        assert len(known) == len(seen)


@settings(max_examples=60, deadline=None)
@given(batches)
def test_answers_as_a_python_set(batch_list: list[list[str]]) -> None:
    run_batches(batch_list)


@settings(max_examples=30, deadline=None)
@given(batches)
def test_hash_collisions_never_make_a_new_key_known(batch_list: list[list[str]]) -> None:
    # Every key hashes alike (a few values only): only the exact comparison tells them apart.
    def few_hashes(ids: pa.Array) -> np.ndarray:
        lengths = np.asarray(pa.compute.binary_length(ids).fill_null(0), dtype=np.uint64)
        return lengths % np.uint64(2)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(hash_index, "hash_ids", few_hashes)
        run_batches(batch_list)


def test_null_keys_are_never_in_the_set() -> None:
    known = KeySet()
    known.add(pa.array(["", "a"]))
    assert known.contains(pa.array([None, "", "a", "b"], pa.string())).tolist() == [
        False,
        True,
        True,
        False,
    ]


def test_runs_stay_few_as_the_set_grows() -> None:
    known = KeySet()
    for i in range(200):
        known.add(pa.array([f"k{i}-{j}" for j in range(10)]))
    assert len(known) == 2000
    assert len(known._runs) <= 12  # about log2 of the batches
    assert known.contains(pa.array(["k0-0", "k199-9", "k200-0"])).tolist() == [True, True, False]
