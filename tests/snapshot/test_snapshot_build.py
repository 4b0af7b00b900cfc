"""The builder on a platform whose every verdict is known in advance."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from consentry.model import Reason
from consentry.snapshot.manifest import Manifest
from consentry.snapshot.roots import merkle_root

from .conftest import EXPECTED, Build, KeyedPseudonyms, ids_of, read_records


def test_exactly_the_eligible_items_are_included(build: Build, tmp_path: Path) -> None:
    result = build()
    records = read_records(result.out)
    pseudo = KeyedPseudonyms(b"k" * 32)
    expected = sorted(ids_of(pseudo, [c for c, r in EXPECTED.items() if r == 0]))
    assert sorted(records["record_id"].to_pylist()) == expected
    counts = result.manifest.counts
    assert counts["input"] == len(EXPECTED)
    assert counts["included"] == len(expected)
    want: dict[str, int] = {}
    for code in EXPECTED.values():
        if code:
            want[Reason(code).code] = want.get(Reason(code).code, 0) + 1
    assert counts["excluded"] == want
    assert counts["age_unknown_included"] == 1  # c5 by a5


def test_references_point_only_inside_the_snapshot(build: Build) -> None:
    records = read_records(build().out).to_pylist()
    pseudo = KeyedPseudonyms(b"k" * 32)
    by_id = {r["record_id"]: r for r in records}
    c1, c5, c12, c13, c14, c18 = ids_of(pseudo, ["c1", "c5", "c12", "c13", "c14", "c18"])
    assert by_id[c12]["in_reply_to"] == c1
    assert by_id[c13]["in_reply_to"] is None  # c2's author never consented
    assert by_id[c14]["repost_of"] == c5 and by_id[c14]["text"] is None
    assert by_id[c18]["quote_of"] is None  # c3 is a minor's
    # Conversations are pseudonymised like content ids; items outside one keep a null.
    c17 = ids_of(pseudo, ["c17"])[0]
    assert by_id[c17]["conversation_id"] == ids_of(pseudo, ["k2"])[0]
    assert by_id[c1]["conversation_id"] is None
    authors = {r["author"] for r in records}
    assert authors == set(pseudo.accounts(__import__("pyarrow").array(["a1", "a5"])).to_pylist())


def test_times_are_coarsened_to_the_day(build: Build) -> None:
    records = read_records(build().out)
    assert all(t.hour == 0 and t.minute == 0 for t in records["created_at"].to_pylist())


def test_interactions_need_both_sides(build: Build) -> None:
    result = build()
    table = pq.read_table(result.out / "interactions")
    pseudo = KeyedPseudonyms(b"k" * 32)
    # a1 liked c5 (both fine); a2 never consented; c2 is not in the snapshot; a3 is a minor.
    assert table["record_id"].to_pylist() == ids_of(pseudo, ["c5"])
    assert result.manifest.counts["interactions"] == {"input": 4, "included": 1}


def test_manifest_proves_what_went_in(build: Build, ledger: object) -> None:
    result = build()
    m = Manifest.load(result.out)
    assert m.purpose == "train" and m.recipient is None
    assert m.ledger["seq"] == 13 and len(m.ledger["head"]) == 64
    assert m.policy["sha256"] and m.policy["version"]
    assert sum(s["rows"] for s in m.shards) == m.counts["included"]
    assert len(m.shards) == 3  # 19 items in batches of 4, shards of ≥ 8 input rows
    root, leaves = merkle_root(result.out, m.shard_infos())
    assert (root, leaves) == (m.merkle["root"], m.counts["included"])
    card = (result.out / "README.md").read_text()
    assert card.startswith("---\n") and "consent_denied" in card
    croissant = json.loads((result.out / "croissant.json").read_text())
    assert croissant["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert [f["@id"] for f in croissant["distribution"][:3]] == [s["path"] for s in m.shards]


def test_same_inputs_same_bytes(build: Build) -> None:
    a, b = build("one"), build("two")
    files = sorted(p.relative_to(a.out) for p in a.out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b.out) for p in b.out.rglob("*") if p.is_file())
    for rel in files:
        assert (a.out / rel).read_bytes() == (b.out / rel).read_bytes(), rel


def test_recipients_get_unlinkable_pseudonyms_and_need_share(build: Build) -> None:
    plain = read_records(build("plain").out)
    shared = build("acme", recipient="acme", key=b"r" * 32)
    records = read_records(shared.out)
    # Only a1 granted share.
    assert set(records["author"].to_pylist()) == set(
        KeyedPseudonyms(b"r" * 32).accounts(__import__("pyarrow").array(["a1"])).to_pylist()
    )
    assert shared.manifest.counts["excluded"]["no_share_consent"] == 2  # a5's c5 and c14
    assert not set(records["record_id"].to_pylist()) & set(plain["record_id"].to_pylist())


def test_nothing_half_written_is_left(build: Build, tmp_path: Path) -> None:
    build()
    assert sorted(p.name for p in tmp_path.iterdir() if "snap" in p.name) == ["snap"]
    assert not list((tmp_path / "snap").rglob("*.done"))
    assert not list((tmp_path / "snap").rglob("*.tmp"))


def test_only_the_columns_of_repeated_values_get_a_dictionary(build: Build) -> None:
    """Ids and texts are mostly distinct: written plainly, not through a dictionary Parquet
    would build for each page and then drop; kinds, languages and the like keep one."""
    out = build("snap").out
    shard = sorted((out / "data").glob("*.parquet"))[0]
    group = pq.ParquetFile(shard).metadata.row_group(0)
    dictionary = {
        group.column(i).path_in_schema: group.column(i).has_dictionary_page
        for i in range(group.num_columns)
    }
    for name in ("record_id", "text", "in_reply_to", "conversation_id"):
        assert not dictionary[name], name
    for name in ("author", "kind", "lang", "created_at", "consent_entry"):
        assert dictionary[name], name
