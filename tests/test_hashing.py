"""The batch hashing loops keep the exact digests: SHA-256 and BLAKE2b of each value of a column
against hashlib (the oracle, one value per call), the bucket hash of ids against its definition
written here in plain Python (one id at a time, Python integers), the vectorised base32 of
pseudonyms against ``base64.b32encode``, and the Merkle root built from perfect subtrees
against RFC 6962's recursive definition (written here from the RFC, not from the module) and
its published test vector."""

from __future__ import annotations

import base64
import hashlib
from unittest.mock import patch

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry import _blake2b, _idhash
from consentry.content.buckets import hash_ids
from consentry.hashing import blake2b_each, sha256_each, sha256_pieces
from consentry.scrub.pseudonym import Pseudonymiser, _base32_array
from consentry.snapshot import merkle
from consentry.snapshot.merkle import (
    EMPTY_ROOT,
    PiecesBuilder,
    StreamingRoot,
    audit_path,
    leaf_hash,
    pieces,
    root_from_path,
    root_of,
)

KEY = bytes(range(32))


@given(
    st.sampled_from([b"", b"k", KEY, bytes(range(64))]),
    st.sampled_from([1, 10, 15, 16, 32, 64]),
    st.lists(st.one_of(st.none(), st.binary(max_size=300)), max_size=40),
    st.integers(0, 5),
)
def test_blake2b_of_a_column_is_hashlibs_per_value(
    key: bytes, size: int, values: list[bytes | None], skip: int
) -> None:
    # Messages of 0 to 300 bytes cross BLAKE2b's block (128) and the key's block; sliced and
    # chunked arrays are read from where the slice starts; a null is an empty value.
    arr = pa.array(values, pa.binary())[skip:]
    want = b"".join(
        hashlib.blake2b(v or b"", key=key, digest_size=size).digest() for v in values[skip:]
    )
    assert blake2b_each(key, size, arr) == want
    cut = len(arr) // 2
    assert blake2b_each(key, size, pa.chunked_array([arr[:cut], arr[cut:]], pa.binary())) == want
    text = pa.array([None if v is None else v.hex() for v in values], pa.string())
    assert blake2b_each(key, size, text) == b"".join(
        hashlib.blake2b(b"" if v is None else v.hex().encode(), key=key, digest_size=size).digest()
        for v in values
    )


def _bucket_hash(value: bytes) -> int:
    """The bucket hash's definition (``consentry.content.buckets``), one id at a time."""
    from consentry.content.buckets import _LENGTH_WEIGHT, _WEIGHTS

    mask = (1 << 64) - 1
    h = len(value) * int(_LENGTH_WEIGHT)
    for j, byte in enumerate(value):
        h += byte * int(_WEIGHTS[j % 256])
    h &= mask
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & mask
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & mask
    return h ^ (h >> 31)


@given(
    st.lists(st.one_of(st.none(), st.text(max_size=300)), max_size=40),
    st.integers(0, 5),
    st.sampled_from([pa.string(), pa.large_string()]),
)
def test_bucket_hash_of_a_column_is_its_definition_per_id(
    values: list[str | None], skip: int, kind: pa.DataType
) -> None:
    # Ids of 0 to 300 characters (positions past 256 reuse the weights), of several lengths
    # or one; sliced and chunked arrays; a null hashes as an empty id.
    arr = pa.array(values, kind)[skip:]
    want = [_bucket_hash((v or "").encode()) for v in values[skip:]]
    assert hash_ids(arr).tolist() == want
    cut = len(arr) // 2
    assert hash_ids(pa.chunked_array([arr[:cut], arr[cut:]], kind)).tolist() == want
    same_length = pa.array([str(10**18 + i) for i in range(len(values))], kind)
    assert hash_ids(same_length).tolist() == [
        _bucket_hash(v.encode()) for v in same_length.to_pylist()
    ]


def test_bucket_hash_refuses_what_it_cannot_read() -> None:
    weights, ends = bytes(256 * 8), b"\x00\x00\x00\x00\x01\x00\x00\x00"
    out = bytearray(8)
    with pytest.raises(ValueError, match="256 uint64"):
        _idhash.hash_ids(b"", 1, b"a", ends, out)
    with pytest.raises(ValueError, match="outside the data"):
        _idhash.hash_ids(weights, 1, b"", ends, out)
    with pytest.raises(ValueError, match="n aligned uint64"):
        _idhash.hash_ids(weights, 1, b"a", ends, bytearray(16))
    with pytest.raises(TypeError):
        _idhash.hash_ids(weights, 1, b"a", ends, bytes(8))  # not writable


def test_blake2b_refuses_what_blake2b_cannot_be() -> None:
    ends = b"\x00\x00\x00\x00"
    with pytest.raises(ValueError, match="key is at most 64 bytes"):
        _blake2b.many(b"k" * 65, 16, b"", ends)
    with pytest.raises(ValueError, match="digest is 1 to 64 bytes"):
        _blake2b.many(b"", 65, b"", ends)
    with pytest.raises(ValueError, match="outside the data"):
        _blake2b.many(b"", 16, b"", ends + b"\x05\x00\x00\x00")


@given(
    st.binary(max_size=70),
    st.lists(st.one_of(st.none(), st.binary(max_size=200)), max_size=40),
    st.integers(0, 5),
    st.integers(1, 3),
)
def test_sha256_of_a_column_is_hashlibs_per_value(
    prefix: bytes, values: list[bytes | None], skip: int, chunks: int
) -> None:
    # Sliced and chunked arrays too: the offsets are read from where the slice starts.
    arr = pa.array(values, pa.binary())[skip:]
    cut = len(arr) // chunks
    column = pa.chunked_array([arr[:cut], arr[cut:]], pa.binary()) if chunks > 1 else arr
    assert sha256_each(prefix, column) == b"".join(
        hashlib.sha256(prefix + (v or b"")).digest() for v in values[skip:]
    )
    text = pa.array([None if v is None else v.hex() for v in values], pa.string())
    assert sha256_each(prefix, text) == b"".join(
        hashlib.sha256(prefix + (b"" if v is None else v.hex().encode())).digest() for v in values
    )


@given(st.binary(max_size=3), st.integers(1, 70), st.integers(0, 9), st.randoms())
def test_sha256_of_fixed_pieces_is_hashlibs(
    prefix: bytes, width: int, count: int, rnd: object
) -> None:
    data = bytes(rnd.getrandbits(8) for _ in range(width * count))  # type: ignore[attr-defined]
    assert sha256_pieces(prefix, data, width) == b"".join(
        hashlib.sha256(prefix + data[i : i + width]).digest() for i in range(0, len(data), width)
    )
    if width > 1:
        with pytest.raises(ValueError, match="are not pieces of"):
            sha256_pieces(prefix, data + b"x", width)


@given(st.integers(0, 40), st.sampled_from([(10, "u_"), (15, "c_")]), st.randoms())
def test_base32_of_macs_is_base64s(count: int, shape: tuple[int, str], rnd: object) -> None:
    size, prefix = shape
    macs = bytes(rnd.getrandbits(8) for _ in range(size * count))  # type: ignore[attr-defined]
    got = _base32_array(prefix, macs, size, count).to_pylist()
    want = [
        prefix + base64.b32encode(macs[i * size : (i + 1) * size]).decode().lower()
        for i in range(count)
    ]
    assert got == want


@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), max_size=60))
def test_pseudonym_arrays_match_one_at_a_time(ids: list[str | None]) -> None:
    p = Pseudonymiser(b"s" * 32, "acme")
    arr = pa.array(ids, pa.string())
    assert p.contents(arr).to_pylist() == [None if i is None else p.content(i) for i in ids]
    assert p.accounts(arr).to_pylist() == [None if i is None else p.account(i) for i in ids]


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, of leaf *hashes*, as the RFC writes it."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


@given(st.integers(0, 140), st.lists(st.integers(1, 40), max_size=12))
def test_streaming_root_in_any_batches_is_rfc6962s(size: int, cuts: list[int]) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    tree = StreamingRoot()
    done = 0
    for cut in cuts:
        tree.add_leaves(leaves[done : done + cut])
        done = min(size, done + cut)
    tree.add_leaves(iter(leaves[done:]))  # any iterable, not only lists
    assert tree.count == size
    assert tree.root() == _mth(leaves) == root_of(leaves)


@given(st.integers(1, 4), st.lists(st.integers(0, 40), max_size=10))
def test_shards_cut_into_pieces_fold_to_rfc6962s_root(height: int, sizes: list[int]) -> None:
    # Blocks of 2..16 leaves here (65,536 in use): the same cuts, at sizes a test can afford.
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(sum(sizes))]
    with patch.object(merkle, "BLOCK_HEIGHT", height):
        tree = StreamingRoot()
        start = 0
        for size in sizes:
            p = pieces(leaves[start : start + size], start)
            assert p.count == size
            tree.add_pieces(p)
            start += size
    assert tree.count == len(leaves)
    assert tree.root() == _mth(leaves)


@given(st.integers(1, 3), st.integers(0, 20), st.lists(st.integers(0, 12), max_size=8))
def test_pieces_given_a_run_at_a_time_fold_to_rfc6962s_root(
    height: int, start: int, runs: list[int]
) -> None:
    # A shard whose leaves come a batch at a time, starting anywhere in the tree.
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(start + sum(runs))]
    with patch.object(merkle, "BLOCK_HEIGHT", height):
        tree = StreamingRoot()
        tree.add_leaves(leaves[:start])
        builder = PiecesBuilder(start)
        at = start
        for run in runs:
            builder.add(leaves[at : at + run])
            at += run
        p = builder.finish()
        assert p.count == sum(runs)
        assert p == pieces(leaves[start:], start)
        tree.add_pieces(p)
    assert tree.root() == _mth(leaves)


def test_pieces_out_of_place_are_refused() -> None:
    tree = StreamingRoot()
    tree.add_leaves([leaf_hash(b"a")])
    with pytest.raises(ValueError, match="from leaf 0 added to a tree of 1"):
        tree.add_pieces(pieces([leaf_hash(b"b")], 0))


def test_published_vector() -> None:
    # The 8-leaf root of RFC 6962's reference test data (certificate-transparency's
    # merkle_tree_test: leaves "", 00, 10, 2021, 3031, 40414243, 5051…57, 6061…6f).
    data = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        bytes(range(0x50, 0x58)),
        bytes(range(0x60, 0x70)),
    ]
    root = root_of([leaf_hash(d) for d in data])
    assert root.hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


@given(st.integers(1, 70), st.data())
def test_audit_paths_lead_to_the_root(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    index = data.draw(st.integers(0, size - 1))
    path = audit_path(leaves, index)
    assert root_from_path(leaves[index], index, size, path) == _mth(leaves)


@given(
    st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=40),
    st.integers(0, 5),
)
def test_pseudonyms_of_a_sliced_column_with_nulls_keep_their_rows(
    ids: list[str | None], skip: int
) -> None:
    p = Pseudonymiser(b"s" * 32, None)
    arr = pa.array(ids, pa.string())[skip:]
    got = p.accounts(arr)
    got.validate(full=True)
    assert got.to_pylist() == [None if i is None else p.account(i) for i in ids[skip:]]
