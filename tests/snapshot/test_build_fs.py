"""A build published at a pyarrow.fs location: a ``file://`` URI, a plain path, or a filesystem
object with no local path (a ``SubTreeFileSystem`` taken as an object store would be: written
through the object, not the path underneath) gives the same bytes as a build to a local folder,
and never replaces a folder that holds no snapshot of ours."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from consentry.errors import UsageError
from consentry.ledger.store import LedgerStore
from consentry.policy import load_policy
from consentry.snapshot.build import Builder, BuildSpec
from consentry.snapshot.build_fs import Location, build_at, staging_for
from consentry.snapshot.records import RecordMaker
from consentry.snapshot.source import MemorySource

from .conftest import Build, KeyedPseudonyms, content_table, interactions_table
from .conftest import no_scrub as _no_scrub
from .test_steps import snapshot_files


def _builder(ledger: LedgerStore) -> Builder:
    key = b"k" * 32  # the conftest build's key: the same bytes
    return Builder(
        ledger=ledger,
        policy=load_policy(),
        source=MemorySource(content_table(), interactions=interactions_table()),
        maker=RecordMaker(KeyedPseudonyms(key), _no_scrub, "day"),
        key_fingerprint=hashlib.sha256(key).hexdigest()[:16],
    )


def _spec(*, force: bool = False) -> BuildSpec:
    return BuildSpec(purpose="train", out=Path("/unused"), batch_size=4, shard_rows=8, force=force)


def _remote(base: Path, path: str) -> Location:
    """A folder of a filesystem known only as an object: no local path to take a shortcut by."""
    fs = pafs.SubTreeFileSystem(str(base), pafs.LocalFileSystem())
    return Location(fs, path, None)


def test_a_file_uri_is_built_in_place(build: Build, ledger: LedgerStore, tmp_path: Path) -> None:
    reference = snapshot_files(build("reference").out)
    target = Location.parse(f"file://{tmp_path}/by-uri")
    assert target.local == tmp_path / "by-uri"
    build_at(_builder(ledger), _spec(), target, staging=tmp_path / "unused-staging")
    assert snapshot_files(tmp_path / "by-uri") == reference
    assert not (tmp_path / "unused-staging").exists()
    # A subtree of the local filesystem is local underneath too.
    sub = Location.of(pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem()), "x/y")
    assert sub.local == tmp_path / "x" / "y"
    assert Location.parse(str(tmp_path / "plain")).local == tmp_path / "plain"


def test_a_filesystem_object_gets_the_same_bytes_through_it(
    build: Build, ledger: LedgerStore, tmp_path: Path
) -> None:
    reference = snapshot_files(build("reference").out)
    store = tmp_path / "bucket"
    store.mkdir()
    target = _remote(store, "snapshots/train")
    staging = staging_for(target, tmp_path / "ws" / "snapshots")
    assert staging == staging_for(target, tmp_path / "ws" / "snapshots")  # a resume finds it
    build_at(_builder(ledger), _spec(), target, staging=staging)
    assert snapshot_files(store / "snapshots" / "train") == reference
    assert not staging.exists()
    assert sorted(p.name for p in (store / "snapshots").iterdir()) == ["train"]  # no .partial
    # Built again over it: refused without --force, replaced with it.
    with pytest.raises(UsageError, match="--force"):
        build_at(_builder(ledger), _spec(), target, staging=staging)
    build_at(_builder(ledger), _spec(force=True), target, staging=staging)
    assert snapshot_files(store / "snapshots" / "train") == reference


def test_a_folder_without_our_manifest_is_never_replaced(
    ledger: LedgerStore, tmp_path: Path
) -> None:
    store = tmp_path / "bucket"
    (store / "theirs").mkdir(parents=True)
    (store / "theirs" / "data.csv").write_text("not ours")
    target = _remote(store, "theirs")
    staging = tmp_path / "staging"
    for force in (False, True):
        with pytest.raises(UsageError, match="not a Consentry snapshot"):
            build_at(_builder(ledger), _spec(force=force), target, staging=staging)
    assert (store / "theirs" / "data.csv").read_text() == "not ours"
    assert not staging.exists()  # refused before any work
    # Nor a leftover .partial that is not a copy of ours.
    (store / ".fresh.partial").mkdir()
    (store / ".fresh.partial" / "keep").write_text("someone's")
    with pytest.raises(UsageError, match="not a copy of a Consentry build"):
        build_at(_builder(ledger), _spec(), _remote(store, "fresh"), staging=staging)
    assert (store / ".fresh.partial" / "keep").read_text() == "someone's"


def test_a_uri_pyarrow_cannot_open_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"pyarrow\.fs"):
        Location.parse("nosuchscheme://bucket/x")
