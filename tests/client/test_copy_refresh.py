"""``copy.refresh`` trusts a shard on a stat (the size the manifest records, written before the
manifest was) and re-reads exactly the shards that changed since: the manifest stays true after
a kill between a shard's rewrite and the manifest's, and a refresh of an unchanged copy hashes
nothing (the cost that made every sync re-hash every copy)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.client.test_copy_properties import _snapshot

from consentry.client import copy
from consentry.snapshot.manifest import MANIFEST_NAME, Manifest
from consentry.snapshot.roots import merkle_root
from consentry.snapshot.writer import file_sha256


def _hashed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files ``copy`` hashes from now on (the real hash still computed)."""
    seen: list[Path] = []
    real = file_sha256

    def counting(path: Path) -> str:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(copy, "file_sha256", counting)
    return seen


def _true(folder: Path) -> None:
    """The manifest describes the files (hashed here with hashlib, not by the code)."""
    m = json.loads((folder / MANIFEST_NAME).read_text())
    for s in m["shards"]:
        data = (folder / s["path"]).read_bytes()
        assert (s["sha256"], s["bytes"]) == (hashlib.sha256(data).hexdigest(), len(data))
        assert s["rows"] == pq.ParquetFile(folder / s["path"]).metadata.num_rows
    assert (m["merkle"]["root"], m["merkle"]["leaves"]) == merkle_root(
        folder, Manifest.load(folder).shard_infos()
    )


def test_refresh_rereads_only_changed_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "snap"
    _snapshot(folder, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])  # its manifest says 0 bytes: stale
    hashed = _hashed(monkeypatch)
    copy.refresh(folder)
    assert len(hashed) == 3
    _true(folder)

    hashed.clear()
    copy.refresh(folder)
    assert hashed == []  # nothing changed: a stat per shard, no read

    # A kill after a shard was rewritten and before the manifest was: the shard is newer.
    shard = folder / "data" / "part-00001.parquet"
    table = pq.read_table(shard).slice(0, 2)
    pq.write_table(table, shard)
    os.utime(shard, ns=(shard.stat().st_atime_ns, (folder / MANIFEST_NAME).stat().st_mtime_ns))
    copy.refresh(folder)
    assert hashed == [shard]  # same mtime as the manifest: not trusted, re-read
    _true(folder)
    assert json.loads((folder / MANIFEST_NAME).read_text())["counts"]["included"] == 8

    # Touched but the same bytes: re-read once, found unchanged, then trusted again.
    hashed.clear()
    later = (folder / MANIFEST_NAME).stat().st_mtime_ns + 10**9
    os.utime(folder / "data" / "part-00002.parquet", ns=(later, later))
    before = (folder / MANIFEST_NAME).read_bytes()
    copy.refresh(folder)
    assert len(hashed) == 1 and (folder / MANIFEST_NAME).read_bytes() == before
    hashed.clear()
    os.utime(folder / MANIFEST_NAME, ns=(later + 1, later + 1))
    copy.refresh(folder)
    assert hashed == []


def test_apply_rewrites_only_the_shards_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "snap"
    _snapshot(folder, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    copy.refresh(folder)
    untouched = {p: p.stat().st_mtime_ns for p in (folder / "data").iterdir()}
    hashed = _hashed(monkeypatch)
    gone = copy.apply_deletions(folder, [copy.Removal("data", "c_0005", None, "consent_denied", 1)])
    assert gone == 1
    changed = folder / "data" / "part-00001.parquet"
    assert hashed == [changed]
    assert {p: p.stat().st_mtime_ns for p in untouched if p != changed} == {
        p: t for p, t in untouched.items() if p != changed
    }
    assert pq.read_table(changed)["record_id"].to_pylist() == ["c_0004", "c_0006"]
    _true(folder)
