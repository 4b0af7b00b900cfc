"""A build's partitioned handles resolve a mention as the in-memory index of every handle does
(``MentionResolver``, the oracle): case-insensitively, ``@``/``＠`` stripped, the first pair
given winning a shared handle, unknown handles null; also when every handle hashes alike, and
however the accounts come in parts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.scrub.pseudonym import Pseudonymiser
from consentry.scrub.resolver import MentionResolver
from consentry.snapshot import handle_parts

NAMES = st.sampled_from(["alice", "Alice", "@bob", "\uff20bob", "carol_1", "dave", "ÉVE", "x"])
PAIRS = st.lists(
    st.tuples(
        st.one_of(st.none(), NAMES), st.one_of(st.none(), st.text("ab12", min_size=1, max_size=3))
    ),
    max_size=25,
)


class _Parts:
    def __init__(self, table: pa.Table, cuts: list[int]) -> None:
        self.table, self.cuts = table, cuts

    def account_parts(self) -> Iterator[pa.Table]:
        start = 0
        for cut in [*self.cuts, self.table.num_rows]:
            yield self.table.slice(start, max(0, cut - start))
            start = max(start, cut)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    PAIRS,
    st.lists(
        st.one_of(st.none(), NAMES.map(lambda h: h.lstrip("@\uff20")), st.just("zed")), max_size=20
    ),
    st.lists(st.integers(0, 25), max_size=4).map(sorted),
    st.booleans(),
)
def test_partitioned_handles_resolve_as_the_whole_index_does(
    tmp_path_factory: pytest.TempPathFactory,
    pairs: list[tuple[str | None, str | None]],
    asked: list[str | None],
    cuts: list[int],
    collide: bool,
) -> None:
    accounts = pa.table(
        {
            "id": pa.array([i for _, i in pairs], pa.string()),
            "handle": pa.array([h for h, _ in pairs], pa.string()),
        }
    )
    pseudonyms = Pseudonymiser(b"k" * 32, "lab")
    oracle = MentionResolver(accounts["handle"], accounts["id"], pseudonyms)
    folder = tmp_path_factory.mktemp("handles")
    with pytest.MonkeyPatch.context() as mp:
        if collide:
            mp.setattr(handle_parts, "hash_ids", lambda ids: np.zeros(len(ids), np.uint64))
        parts = _Parts(accounts, cuts)
        handle_parts.export_handles(folder, parts, 2 ** len(cuts))  # type: ignore[arg-type]
        assert handle_parts.written(folder)
        mentions = handle_parts.PartitionedMentions(folder, pseudonyms)
        query = pa.array(asked, pa.string())
        assert mentions.account_ids(query).to_pylist() == oracle.account_ids(query).to_pylist()
        assert mentions.resolve(query).to_pylist() == oracle.resolve(query).to_pylist()


def test_a_worker_reads_only_the_partitions_its_handles_fall_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"id{i}" for i in range(3000)]
    accounts = pa.table({"id": ids, "handle": [f"user{i}" for i in range(3000)]})
    parts = _Parts(accounts, [1000, 2000])
    handle_parts.export_handles(tmp_path, parts, 64)  # type: ignore[arg-type]
    opened: list[str] = []
    real = pa.memory_map

    def counted(path: str, *args: object) -> pa.MemoryMappedFile:
        opened.append(Path(path).name)
        return real(path, *args)

    monkeypatch.setattr(pa, "memory_map", counted)
    mentions = handle_parts.PartitionedMentions(tmp_path, Pseudonymiser(b"k" * 32))
    assert mentions.account_ids(pa.array(["USER7", "user2999", "nobody"])).to_pylist() == [
        "id7",
        "id2999",
        None,
    ]
    assert len(opened) <= 3 < 64
    with pytest.raises(ValueError, match="power of two"):
        handle_parts.export_handles(tmp_path / "x", parts, 48)  # type: ignore[arg-type]
