"""``KnownAccounts`` looks ids up by hash, then confirms: exact even when hashes collide."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from consentry.platform import ingest
from consentry.platform.ingest import KnownAccounts


def _reference(known: list[str], ids: list[str | None]) -> list[bool]:
    return [i is not None and i in set(known) for i in ids]


@pytest.mark.parametrize("collide", [False, True])
def test_contains_is_exact(monkeypatch: pytest.MonkeyPatch, collide: bool) -> None:
    if collide:  # every id hashes alike: only the comparison of ids can tell them apart
        monkeypatch.setattr(ingest, "hash_ids", lambda ids: np.full(len(ids), 42, dtype=np.uint64))
    known = KnownAccounts(pa.array(["a", "b", "c"]), pa.array([], pa.string()))
    ids: list[Any] = ["c", "x", None, "a", "", "b", "bb"]
    got = known.contains(pa.array(ids, pa.string()))
    assert got.tolist() == _reference(["a", "b", "c"], ids)
    known.add(pa.array(["x", "", "c"]))
    got = known.contains(pa.chunked_array([pa.array(ids[:3]), pa.array(ids[3:])]))
    assert got.tolist() == _reference(["a", "b", "c", "x", ""], ids)


def test_nothing_known() -> None:
    assert KnownAccounts().contains(pa.array(["a", None])).tolist() == [False, False]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 17, 1000, 20_000])
def test_contains_matches_a_set_at_any_size(n: int) -> None:
    # The lookup jumps by hash prefix into the sorted hashes: its runs depend on the size.
    rng = np.random.default_rng(n)
    known = [str(x) for x in rng.integers(10**18, 2 * 10**18, n)]
    ids: list[str | None] = [known[i] for i in rng.integers(0, n, 500)]
    ids += [str(x) for x in rng.integers(10**18, 2 * 10**18, 500)] + [None, ""]
    got = KnownAccounts(pa.array(known)).contains(pa.array(ids, pa.string()))
    assert got.tolist() == _reference(known, ids)
