"""Shards on disk: written to a work folder, each sealed by a completion marker, and the whole
snapshot published by one atomic rename, so a reader never sees half a snapshot and a killed
build resumes from its last sealed shard.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from consentry.outputs import check_leftover, check_output_folder, replace_folder

MARKER_SUFFIX: Final = ".done"
BUILD_FILE: Final = "build.json"
HASH_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class ShardInfo:
    path: str  # relative to the snapshot folder
    rows: int
    bytes: int
    sha256: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_snapshot(folder: Path) -> bool:
    """Whether ``folder`` holds a Consentry snapshot's manifest: the one thing ``--force`` may
    replace."""
    from consentry.snapshot.manifest import FORMAT, Manifest  # the manifest imports this module

    try:
        return Manifest.load(folder).format == FORMAT
    except (OSError, ValueError, TypeError):
        return False


def _is_work_folder(folder: Path) -> bool:
    return isinstance(_read_json(folder / BUILD_FILE).get("build_id"), str)


class WorkFolder:
    """``OUT``'s sibling ``.OUT.partial``: where a build writes until it publishes.

    ``workspace`` is the workspace the build reads: OUT may be neither it nor a parent of it,
    and inside it only under ``snapshots/``.
    """

    def __init__(self, out: Path, build_id: str, *, workspace: Path | None = None) -> None:
        self.out = out
        self.path = out.parent / f".{out.name}.partial"
        self.build_id = build_id
        self.workspace = workspace

    @classmethod
    def at(cls, path: Path) -> WorkFolder:
        """The work folder ``path`` itself, as a worker that writes into it sees it (it neither
        checks, opens nor publishes it: the build's own process does)."""
        folder = cls(path.parent / path.name.removeprefix(".").removesuffix(".partial"), "")
        folder.path = path
        return folder

    def check(self, *, force: bool) -> None:
        """Refuse an OUT the build may not publish to (before any work is done)."""
        check_output_folder(
            self.out,
            role="--out",
            workspace=self.workspace,
            ours=is_snapshot,
            what="a Consentry snapshot (no manifest.json of one)",
            force=force,
            in_workspace="snapshots",
        )

    def open(self, *, force: bool) -> None:
        self.check(force=force)
        stamp = self.path / BUILD_FILE
        what = f"the work folder of a Consentry build (no {BUILD_FILE})"
        reusable = check_leftover(self.path, ours=_is_work_folder, what=what)
        if reusable and _read_json(stamp).get("build_id") != self.build_id:
            # Left by a Consentry build of other inputs: nothing in it can be reused.
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(stamp, {"build_id": self.build_id})

    def sealed(self, relative: str) -> ShardInfo | None:
        """The shard's info if it was completely written by an earlier run, else None."""
        shard = self.path / relative
        marker = _read_json(shard.with_name(shard.name + MARKER_SUFFIX))
        if not marker or not shard.is_file() or shard.stat().st_size != marker.get("bytes"):
            return None
        info = ShardInfo(**marker)
        return info if file_sha256(shard) == info.sha256 else None

    def shard_writer(
        self, relative: str, schema: pa.Schema, distinct: Collection[str] = ()
    ) -> ShardWriter:
        return ShardWriter(self.path, relative, schema, distinct)

    def write_file(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, target)

    def publish(self, *, force: bool) -> None:
        """Drop the build's bookkeeping, then rename the folder into place in one step."""
        # OUT is looked at again: it may have appeared, or changed, while the build ran.
        self.check(force=force)
        for marker in self.path.rglob(f"*{MARKER_SUFFIX}"):
            marker.unlink()
        (self.path / BUILD_FILE).unlink(missing_ok=True)
        _fsync_tree(self.path)
        if self.out.exists():
            replace_folder(self.path, self.out)
        else:
            os.replace(self.path, self.out)


class ShardWriter:
    """One Parquet shard, written under a temporary name and sealed by ``close``."""

    def __init__(
        self, root: Path, relative: str, schema: pa.Schema, distinct: Collection[str] = ()
    ) -> None:
        """``distinct``: columns whose values are mostly distinct (ids, texts), written without
        a dictionary: Parquet would build one for each page, then give it up as too large
        (~15% of the write's CPU on a snapshot's records, and larger files)."""
        self.root = root
        self.relative = relative
        self.final = root / relative
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.final.with_name(self.final.name + ".tmp")
        self.rows = 0
        # Fixed writer options: same rows → same bytes.
        self._writer = pq.ParquetWriter(
            self.tmp,
            schema,
            compression="zstd",
            write_statistics=True,
            use_dictionary=[f.name for f in schema if f.name not in distinct],
        )

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self._writer.write_batch(batch)
            self.rows += batch.num_rows

    def close(self) -> ShardInfo:
        self._writer.close()
        with self.tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.final)
        info = ShardInfo(
            self.relative, self.rows, self.final.stat().st_size, file_sha256(self.final)
        )
        marker = self.final.with_name(self.final.name + MARKER_SUFFIX)
        _write_json_atomic(marker, asdict(info))
        return info


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_json_atomic(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, sort_keys=True), "utf-8")
    os.replace(tmp, path)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
