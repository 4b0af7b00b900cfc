"""Writing one import into the content store: stage by bucket, then commit bucket by bucket.

While an import runs, validated rows are buffered and, every ``spill_bytes`` (all tables
together), split by bucket and appended to one staging file (Arrow IPC stream) per bucket —
memory holds one buffer, whatever the input size. ``commit`` then takes each bucket in turn:
the staged rows (the last row of a key wins within an import) are compared with the bucket's
current rows; new and changed ones are written as a segment; identical ones are counted as
unchanged. A bucket nobody wrote before and with no repeated key is committed by streaming its
staging file into the segment (the first import of a big export compares nothing). Buckets
are independent: with ``workers`` > 1 they are committed in forked worker processes, the same
segment bytes and counts as one process. The commit marker, written last (by this process),
makes the import visible at once.

Deletions: ``deleted_at`` is never cleared by a later version (an export taken before the
deletion, imported again, must not bring an item back); ``tombstone`` records a deletion of an
item known only by id, as a new version of its current row.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import shutil
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc
import pyarrow.parquet as pq

from consentry.content.buckets import U64, bucket_from_hash, bucket_of, hash_ids
from consentry.content.schema import ITEMS, TABLES, TIMESTAMP, TableSpec
from consentry.content.store import (
    ContentStore,
    bucket_dir,
    first_per_key,
    key_column,
    marker_path,
    segment_name,
)
from consentry.masks import bool_mask

#: Rows are split by bucket and spilled once the buffer reaches this size (Arrow bytes).
SPILL_BYTES: Final = 64 * 1024 * 1024
COMPRESSION: Final = "zstd"
#: Rows per row group of a segment written from staged rows (~4 MB of items). A reader holds
#: a row group's compressed column chunks while it streams them: 64k-row groups (which only
#: platforms of several million items fill: a bucket of a 1M-item platform holds ~16k rows)
#: made a snapshot build's peak memory grow with the platform (~4 MB more at 10M items).
ROW_GROUP_ROWS: Final = 16_384

Mask = npt.NDArray[np.bool_]
Index = npt.NDArray[np.int64]

TOMBSTONE_SCHEMA: Final = pa.schema(
    [
        ("content_id", pa.string()),
        ("deleted_at", TIMESTAMP),
        ("source_file", pa.int32()),
        ("source_line", pa.int64()),
    ]
)


@dataclass
class FileCounts:
    """What one input file's rows became in one table."""

    imported: int = 0
    unchanged: int = 0
    updated: int = 0  # of imported: new versions of records already stored
    deleted: int = 0  # of imported: versions recording a deletion


@dataclass
class StagedTally:
    """Rows staged for one bucket: how many, from which file, how many deleted."""

    per_file: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    deleted_per_file: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def rows(self) -> int:
        return int(self.per_file.sum())

    @property
    def deleted(self) -> int:
        return int(self.deleted_per_file.sum())

    def add(self, per_file: npt.NDArray[np.int64], deleted: npt.NDArray[np.int64]) -> None:
        self.per_file = _add(self.per_file, per_file)
        self.deleted_per_file = _add(self.deleted_per_file, deleted)


def _add(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    if len(a) < len(b):
        a, b = b, a
    out = a.copy()
    out[: len(b)] += b
    return out


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A deletion of an item neither stored nor in this import."""

    source_file: int
    source_line: int | None
    content_id: str
    deleted_at: datetime


@dataclass
class CommitResult:
    counts: dict[tuple[str, int], FileCounts] = field(default_factory=dict)
    unresolved: list[Unresolved] = field(default_factory=list)

    def of(self, table: str, file: int) -> FileCounts:
        return self.counts.setdefault((table, file), FileCounts())

    def merge(self, other: CommitResult) -> None:
        """Add another bucket's counts (in bucket order: the order one process sees them)."""
        for key, c in other.counts.items():
            mine = self.of(*key)
            mine.imported += c.imported
            mine.unchanged += c.unchanged
            mine.updated += c.updated
            mine.deleted += c.deleted
        self.unresolved.extend(other.unresolved)


def _key_hashes(spec: TableSpec, table: pa.Table, bucket_hashes: U64) -> U64:
    """A 64-bit hash of each row's key (for spotting repeated keys; never stored)."""
    if spec.key == (spec.bucket_by,):
        return bucket_hashes
    h = bucket_hashes.copy()
    for name in spec.key:
        if name != spec.bucket_by:
            h = h * np.uint64(0x100000001B3) ^ hash_ids(table.column(name))
    return h


def parquet_options(spec: TableSpec) -> dict[str, Any]:
    # zstd at its fastest level: most of the gain over lz4 in size for little CPU. No
    # statistics: readers stream whole buckets, they never skip row groups by value.
    return {
        "compression": COMPRESSION,
        "compression_level": 1,
        "use_dictionary": list(spec.dictionary),
        "write_statistics": False,
    }


# ---- comparing versions -------------------------------------------------------------------------


def equal_values(a: pa.Array, b: pa.Array) -> Mask:
    """Row-wise equality, null-aware (null == null), for scalars, structs and lists of them."""
    a_null = np.asarray(a.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    b_null = np.asarray(b.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    both_valid = ~a_null & ~b_null
    same = a_null & b_null
    if pa.types.is_struct(a.type):
        eq = both_valid.copy()
        for fa, fb in zip(a.flatten(), b.flatten(), strict=True):
            eq &= equal_values(fa, fb)
        return same | eq
    if pa.types.is_list(a.type) or pa.types.is_large_list(a.type):
        same_len = both_valid & bool_mask(
            pc.equal(pc.list_value_length(a), pc.list_value_length(b))
        )
        rows = np.nonzero(same_len)[0]
        if len(rows):
            ta, tb = a.take(pa.array(rows)), b.take(pa.array(rows))
            values_equal = equal_values(pc.list_flatten(ta), pc.list_flatten(tb))
            parents = pc.list_parent_indices(ta).to_numpy(zero_copy_only=False)
            differing = np.unique(parents[~values_equal])
            same_len[rows[differing]] = False
        return same | same_len
    return same | (both_valid & bool_mask(pc.equal(a, b)))


# ---- the writer ---------------------------------------------------------------------------------


#: The last import number handed out, committed or not: an import refused (``--strict``) or
#: interrupted keeps its number, so that its quarantine file and its messages never name the
#: same import as the next one.
_ISSUED = "issued"


def _last_issued(root: Path) -> int:
    try:
        text = (root / "imports" / _ISSUED).read_text("ascii").strip()
    except FileNotFoundError:
        return 0
    return int(text) if text.isdigit() else 0


def _issue(root: Path, seq: int) -> None:
    folder = root / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{_ISSUED}.tmp"
    tmp.write_text(f"{seq}\n", "ascii")
    os.replace(tmp, folder / _ISSUED)


class ImportWriter:
    """Stages one import's rows and commits them; holds the store's lock until done."""

    def __init__(
        self,
        store: ContentStore,
        *,
        source: str,
        spill_bytes: int = SPILL_BYTES,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.store = store
        self.workers = workers
        self.root = store.root
        self.source = source
        self.spill_bytes = spill_bytes
        self.files: list[str] = []
        self._file_index: dict[str, int] = {}
        self._buffers: dict[str, list[tuple[pa.Table, npt.NDArray[np.int64], U64]]] = {}
        self._buffered: dict[str, int] = {}
        self._writers: dict[tuple[str, int], _StagingFile] = {}
        self._tombstones: list[pa.Table] = []
        self._staged: dict[tuple[str, int], StagedTally] = {}
        self._lock_fh: IO[str] | None = None
        self.started_at = datetime.now(UTC)
        store.ensure_layout()
        self._lock()
        self.committed = store.committed()
        self.seq = max(max(self.committed, default=0), _last_issued(self.root)) + 1
        _issue(self.root, self.seq)
        self.id = f"{self.seq:06d}-{self.started_at:%Y%m%dT%H%M%SZ}"
        self._clean_leftovers()
        self.staging = self.root / "staging" / f"{self.seq:06d}"
        self.staging.mkdir(parents=True)

    # ---- lock and crash leftovers --------------------------------------------------------------

    def _lock(self) -> None:
        # One import at a time per store (readers need no lock: commit markers make writes
        # visible atomically). flock is released by the OS if the process dies.
        self._lock_fh = (self.root / ".lock").open("a")
        fcntl.flock(self._lock_fh, fcntl.LOCK_EX)

    def _unlock(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def _clean_leftovers(self) -> None:
        """Remove what a crashed import left: staging folders and uncommitted segments."""
        shutil.rmtree(self.root / "staging", ignore_errors=True)
        for name in TABLES:
            folder = self.root / name
            if not folder.is_dir():
                continue
            for path in folder.glob("b*/*.parquet"):
                stem = path.name.split(".", 1)[0]
                if stem.isdigit() and int(stem) not in self.committed:
                    path.unlink()
            for path in folder.glob("b*/*.tmp"):
                path.unlink()

    # ---- staging -------------------------------------------------------------------------------

    def file_index(self, name: str) -> int:
        """The number this import gives an input file (stored in ``source_file``)."""
        index = self._file_index.get(name)
        if index is None:
            index = self._file_index[name] = len(self.files)
            self.files.append(name)
        return index

    def add(self, spec: TableSpec, table: pa.Table) -> None:
        """Stage rows (``spec.schema`` columns; ``import_seq`` is filled in here)."""
        if table.num_rows == 0:
            return
        n = table.num_rows
        table = (
            table.set_column(
                table.schema.get_field_index("import_seq"),
                spec.schema.field("import_seq"),
                pa.array(np.full(n, self.seq, dtype=np.int32)),
            )
            if "import_seq" in table.column_names
            else table.append_column(
                spec.schema.field("import_seq"), pa.array(np.full(n, self.seq, dtype=np.int32))
            )
        )
        table = table.select(spec.schema.names).cast(spec.schema)
        # Sorted by bucket now, a batch at a time: a take within one batch stays in cache,
        # one over the whole buffer would not (several times slower on a busy machine).
        buckets = self.store.buckets(spec)
        hashes = hash_ids(table.column(spec.bucket_by))
        bucket = bucket_from_hash(hashes, buckets)
        # The narrowest integer type: numpy's stable sort of 8/16-bit values is a radix sort,
        # ~4x faster than of int64 (the same order: a stable sort has only one answer).
        order = np.argsort(bucket.astype(np.min_scalar_type(max(buckets - 1, 0))), kind="stable")
        table = table.take(pa.array(order))
        bounds = np.searchsorted(bucket[order], np.arange(buckets + 1))
        keys = _key_hashes(spec, table, hashes[order])
        self._buffers.setdefault(spec.name, []).append((table, bounds, keys))
        self._buffered[spec.name] = self._buffered.get(spec.name, 0) + table.nbytes
        if sum(self._buffered.values()) >= self.spill_bytes:
            # The bound is on all tables together: a table's rest, left buffered when the
            # import moves on to the next file, would otherwise sit beside a full buffer of the
            # next table (peak memory then depended on where the input size cut the rest).
            self.spill()

    def spill(self) -> None:
        """Write every buffered row to the staging files now (frees the buffers)."""
        for name in list(self._buffers):
            self._spill(TABLES[name])

    def tombstone(
        self, content_ids: pa.Array, deleted_at: pa.Array, source_file: int, lines: pa.Array
    ) -> None:
        """Record deletions of items known by id only (resolved against current rows at commit)."""
        n = len(content_ids)
        self._tombstones.append(
            pa.table(
                [
                    content_ids,
                    deleted_at.cast(TIMESTAMP),
                    pa.array(np.full(n, source_file, dtype=np.int32)),
                    lines.cast(pa.int64()),
                ],
                schema=TOMBSTONE_SCHEMA,
            )
        )

    def _spill(self, spec: TableSpec) -> None:
        """Append the buffered rows to the staging files, one table per bucket."""
        parts = self._buffers.pop(spec.name, [])
        self._buffered[spec.name] = 0
        for b in range(self.store.buckets(spec)):
            ranges = [
                (t, keys, lo, hi)
                for t, bounds, keys in parts
                for lo, hi in [(int(bounds[b]), int(bounds[b + 1]))]
                if hi > lo
            ]
            if not ranges:
                continue
            table = pa.concat_tables([t.slice(lo, hi - lo) for t, _, lo, hi in ranges])
            self._stage_writer(spec, b).write_table(table)
            # The 64-bit hashes of its keys, beside: enough to see that no key repeats.
            with self._key_hash_path(spec, b).open("ab") as fh:
                for _, keys, lo, hi in ranges:
                    fh.write(keys[lo:hi].tobytes())
            # What a bucket holds, kept so that committing it needs to read only its keys.
            files = np.asarray(table.column("source_file").to_numpy(zero_copy_only=False), np.int64)
            deleted = (
                np.asarray(table.column("deleted_at").is_valid().to_numpy(zero_copy_only=False))
                if "deleted_at" in spec.schema.names
                else np.zeros(table.num_rows, dtype=np.bool_)
            )
            tally = self._staged.setdefault((spec.name, b), StagedTally())
            tally.add(np.bincount(files), np.bincount(files[deleted]))

    def _stage_writer(self, spec: TableSpec, bucket: int) -> _StagingFile:
        writer = self._writers.get((spec.name, bucket))
        if writer is None:
            path = self._stage_path(spec, bucket)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = _StagingFile(path, spec.schema)
            self._writers[(spec.name, bucket)] = writer
        return writer

    def _stage_path(self, spec: TableSpec, bucket: int) -> Path:
        return self.staging / spec.name / f"b{bucket:02d}.arrows"

    def _key_hash_path(self, spec: TableSpec, bucket: int) -> Path:
        return self.staging / spec.name / f"b{bucket:02d}.keys"

    # ---- commit --------------------------------------------------------------------------------

    def commit(self, also_changed: Mapping[str, pa.Array] | None = None) -> CommitResult:
        """Make the staged rows current; returns per-file counts.

        ``also_changed`` names, per table, keys to count as imported even when their stored row
        is unchanged (an account whose ledger state changed).
        """
        self.spill()
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        tombstones = (
            pa.concat_tables(self._tombstones)
            if self._tombstones
            else TOMBSTONE_SCHEMA.empty_table()
        )
        result = CommitResult()
        previous = self.store.imports()
        totals: dict[str, dict[str, list[int]]] = {}
        jobs: list[_Job] = []
        for name, spec in TABLES.items():
            buckets = self.store.buckets(spec)
            prev = previous[-1].totals.get(name) if previous else None
            rows = list(prev["rows"]) if prev else [0] * buckets
            deleted = list(prev["deleted"]) if prev else [0] * buckets
            tomb_bucket = (
                bucket_of(tombstones.column("content_id"), buckets)
                if spec is ITEMS and tombstones.num_rows
                else None
            )
            extra = (also_changed or {}).get(name)
            for b in range(buckets):
                tombs = None
                if tomb_bucket is not None:
                    tombs = tombstones.filter(pa.array(tomb_bucket == b))
                    tombs = tombs if tombs.num_rows else None
                staged = self._stage_path(spec, b)
                if not staged.exists() and tombs is None:
                    continue
                jobs.append(_Job(spec, b, staged if staged.exists() else None, tombs, extra))
            totals[name] = {"rows": rows, "deleted": deleted}
        for job, (rows_b, deleted_b, part) in zip(jobs, self._run_jobs(jobs), strict=True):
            totals[job.spec.name]["rows"][job.bucket] = rows_b
            totals[job.spec.name]["deleted"][job.bucket] = deleted_b
            result.merge(part)
        self._write_marker(totals)
        shutil.rmtree(self.staging, ignore_errors=True)
        self._unlock()
        return result

    def _run_jobs(self, jobs: list[_Job]) -> Iterator[tuple[int, int, CommitResult]]:
        """Each bucket's commit, in order. Buckets are independent (each writes its own
        segment, from its own staged rows and stored segments), so with ``workers`` > 1 they
        run in forked worker processes, which inherit this writer as it is (no pickling of the
        staged state; the store's lock stays with this process). Their counts come back and
        are merged in bucket order: the same result, and the same segment bytes, as one
        process committing them in turn."""
        if (
            self.workers == 1
            or len(jobs) < 2
            or "fork" not in multiprocessing.get_all_start_methods()
        ):
            for job in jobs:
                yield _run_job(self, job)
            return
        global _FORKED
        _FORKED = (self, jobs)
        try:
            with ProcessPoolExecutor(
                max_workers=min(self.workers, len(jobs)),
                mp_context=multiprocessing.get_context("fork"),
            ) as pool:
                yield from pool.map(_run_forked_job, range(len(jobs)))
        finally:
            _FORKED = None

    def _write_marker(self, totals: dict[str, dict[str, list[int]]]) -> None:
        path = marker_path(self.root, self.seq)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "seq": self.seq,
            "id": self.id,
            "source": self.source,
            "started_at": self.started_at.isoformat(),
            "committed_at": datetime.now(UTC).isoformat(),
            "files": self.files,
            "totals": totals,
        }
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)

    def commit_rewrite(self, totals: dict[str, dict[str, list[int]]]) -> None:
        """Commit a change that rewrote committed segments in place rather than adding new ones
        (an erasure): a marker with the new per-bucket totals makes readers' fingerprints and
        counts change with it."""
        self._write_marker(totals)
        shutil.rmtree(self.staging, ignore_errors=True)
        self._unlock()

    def abort(self) -> None:
        """Drop everything staged; the store is as before."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self._buffers.clear()
        shutil.rmtree(self.staging, ignore_errors=True)
        self._unlock()

    def segment_path(self, spec: TableSpec, bucket: int) -> Path:
        return bucket_dir(self.root, spec.name, bucket) / segment_name(self.seq)


@dataclass(frozen=True)
class _Job:
    """One bucket of one table to commit."""

    spec: TableSpec
    bucket: int
    staged: Path | None
    tombs: pa.Table | None
    also_changed: pa.Array | None


#: The writer and jobs of a parallel commit, set just before its workers are forked.
_FORKED: tuple[ImportWriter, list[_Job]] | None = None


def _run_job(writer: ImportWriter, job: _Job) -> tuple[int, int, CommitResult]:
    part = CommitResult()
    rows, deleted = _BucketCommit(writer, job.spec, job.bucket, part, job.also_changed).run(
        job.staged, job.tombs
    )
    return rows, deleted, part


def _run_forked_job(index: int) -> tuple[int, int, CommitResult]:
    assert _FORKED is not None, "a commit worker runs only in a process forked by _run_jobs"
    writer, jobs = _FORKED
    return _run_job(writer, jobs[index])


class _StagingFile:
    """A bucket's staged rows: an Arrow IPC stream, appended at every spill.

    Not Parquet: a Parquet writer keeps the metadata of every row group it wrote until it is
    closed (~13 KB per row group of items), and an import holds one writer per bucket open, so
    memory grew with the input (~35 MB per 10M posts). A stream keeps nothing; the Parquet
    segment is written from it at commit, one bucket at a time."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_stream(self._sink, schema)

    def write_table(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def _staged_batches(path: Path) -> Iterator[pa.RecordBatch]:
    with pa.OSFile(str(path), "rb") as source:
        yield from pa.ipc.open_stream(source)


def _read_staged(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:
        table: pa.Table = pa.ipc.open_stream(source).read_all()
    return table


def _stream_to_parquet(staged: Path, target: Path, spec: TableSpec) -> None:
    """The staged rows as one Parquet file, in row groups of about ``ROW_GROUP_ROWS``."""
    with pq.ParquetWriter(target, spec.schema, **parquet_options(spec)) as writer:
        held: list[pa.RecordBatch] = []
        rows = 0
        for batch in _staged_batches(staged):
            held.append(batch)
            rows += batch.num_rows
            if rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(held, spec.schema))
                held, rows = [], 0
        if held:
            writer.write_table(pa.Table.from_batches(held, spec.schema))


def _all_distinct(values: U64) -> bool:
    # A sort and a look at neighbours: numpy 2's hash-based ``unique`` is ~40x slower on
    # 64-bit hashes (it was the largest cost of committing a first import).
    ordered = np.sort(values)
    return bool((ordered[1:] != ordered[:-1]).all())


def _bincount(files: Any, mask: Mask | None = None) -> npt.NDArray[np.int64]:
    arr = np.asarray(pc.fill_null(files, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    if mask is not None:
        arr = arr[mask]
    return np.bincount(arr)


class _BucketCommit:
    """Commit of one bucket of one table (see the module docstring)."""

    def __init__(
        self,
        writer: ImportWriter,
        spec: TableSpec,
        bucket: int,
        result: CommitResult,
        also_changed: pa.Array | None,
    ) -> None:
        self.w = writer
        self.spec = spec
        self.bucket = bucket
        self.result = result
        self.also_changed = also_changed

    def count(self, what: str, files: Any, mask: Mask | None = None) -> None:
        for file, n in enumerate(_bincount(files, mask)):
            if n:
                counts = self.result.of(self.spec.name, file)
                setattr(counts, what, getattr(counts, what) + int(n))

    def run(self, staged: Path | None, tombs: pa.Table | None) -> tuple[int, int]:
        spec = self.spec
        segs = self.w.store.segments(spec, self.bucket, self.w.committed)
        target = self.w.segment_path(spec, self.bucket)
        has_deleted = "deleted_at" in spec.schema.names
        if staged is not None and not segs and tombs is None:
            tally = self.w._staged[(spec.name, self.bucket)]
            hashes = np.fromfile(self.w._key_hash_path(spec, self.bucket), dtype=np.uint64)
            # Distinct hashes prove distinct keys; a repeat (a key twice, or a collision)
            # takes the exact path below.
            if len(hashes) == tally.rows and _all_distinct(hashes):
                # First rows of this bucket, no key twice: the staged rows are the segment,
                # streamed from the staging file (memory: one row group, whatever the bucket).
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(".tmp")
                _stream_to_parquet(staged, tmp, spec)
                tmp.replace(target)
                for file, n in enumerate(tally.per_file.tolist()):
                    self.result.of(spec.name, file).imported += n
                for file, n in enumerate(tally.deleted_per_file.tolist()):
                    self.result.of(spec.name, file).deleted += n
                return tally.rows, tally.deleted
        new = _read_staged(staged) if staged is not None else spec.schema.empty_table()
        new = self._last_per_key(new)
        existing = (
            self.w.store.current(spec, self.bucket, committed=self.w.committed)
            if segs
            else spec.schema.empty_table()
        )
        new, write, matched, old_deleted = self._compare(new, existing)
        to_write = new.filter(pa.array(write))
        if tombs is not None:
            to_write = self._apply_tombstones(to_write, new, existing, tombs)
        if to_write.num_rows:
            to_write = to_write.cast(spec.schema)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            pq.write_table(to_write, tmp, **parquet_options(spec))
            tmp.replace(target)
        current_rows = existing.num_rows + int(np.count_nonzero(~matched & write))
        if not has_deleted:
            return current_rows, 0
        # Deleted count: the old ones (never undeleted) plus those this import deletes.
        existing_deleted = existing.num_rows - existing.column("deleted_at").null_count
        written_deleted = bool_mask(pc.is_valid(to_write.column("deleted_at")))
        keys_written = key_column(to_write, spec)
        was_deleted = bool_mask(pc.is_in(keys_written, value_set=old_deleted))
        return current_rows, existing_deleted + int(
            np.count_nonzero(written_deleted & ~was_deleted)
        )

    def _last_per_key(self, new: pa.Table) -> pa.Table:
        """Within one import, a key's last row wins; the earlier ones count as unchanged."""
        keys = key_column(new, self.spec)
        if pc.count_distinct(keys).as_py() == new.num_rows:
            return new
        n = new.num_rows
        last = (n - 1 - first_per_key(keys.take(pa.array(np.arange(n - 1, -1, -1)))))[::-1]
        superseded = np.ones(n, dtype=np.bool_)
        superseded[last] = False
        self.count("unchanged", new.column("source_file"), superseded)
        return new.take(pa.array(np.sort(last)))

    def _compare(self, new: pa.Table, existing: pa.Table) -> tuple[pa.Table, Mask, Mask, pa.Array]:
        """The new rows (deletions carried over), which to write, which match a stored
        record, and the keys of stored records already deleted."""
        spec = self.spec
        n = new.num_rows
        files = new.column("source_file")
        has_deleted = "deleted_at" in spec.schema.names
        old_deleted = pa.array([], pa.string())
        if existing.num_rows == 0:
            write = np.ones(n, dtype=np.bool_)
            self.count("imported", files)
            if has_deleted:
                self.count("deleted", files, bool_mask(pc.is_valid(new.column("deleted_at"))))
            return new, write, np.zeros(n, dtype=np.bool_), old_deleted
        new_keys = key_column(new, spec)
        old_keys = key_column(existing, spec)
        where = pc.index_in(new_keys, value_set=old_keys)
        matched = bool_mask(pc.is_valid(where))
        rows = pc.fill_null(where, 0)
        old = existing.take(rows)
        if has_deleted:
            old_deleted = old_keys.filter(pc.is_valid(existing.column("deleted_at")))
            # A deletion sticks: a stale export must not bring an item back.
            carried = pc.coalesce(new.column("deleted_at"), old.column("deleted_at"))
            carried = pc.if_else(pa.array(matched), carried, new.column("deleted_at"))
            new = new.set_column(new.schema.get_field_index("deleted_at"), "deleted_at", carried)
        same = matched.copy()
        for name in spec.compared:
            same &= equal_values(
                new.column(name).combine_chunks(), old.column(name).combine_chunks()
            )
        write = ~same
        unchanged = same.copy()
        if self.also_changed is not None and len(self.also_changed):
            bumped = unchanged & bool_mask(pc.is_in(new_keys, value_set=self.also_changed))
            self.count("imported", files, bumped)
            unchanged &= ~bumped
        self.count("imported", files, write)
        self.count("updated", files, write & matched)
        self.count("unchanged", files, unchanged)
        if has_deleted:
            newly = write & bool_mask(pc.is_valid(new.column("deleted_at")))
            newly &= ~(matched & bool_mask(pc.is_valid(old.column("deleted_at"))))
            self.count("deleted", files, newly)
        return new, write, matched, old_deleted

    def _apply_tombstones(
        self, to_write: pa.Table, new: pa.Table, existing: pa.Table, tombs: pa.Table
    ) -> pa.Table:
        tombs = tombs.take(pa.array(first_per_key(tombs.column("content_id"))))
        ids = tombs.column("content_id")
        files = tombs.column("source_file")
        # The record each deletion applies to: this import's row, else the stored one.
        in_write = pc.index_in(ids, value_set=to_write.column("content_id"))
        in_new = pc.index_in(ids, value_set=new.column("content_id"))
        in_old = pc.index_in(ids, value_set=existing.column("content_id"))
        w, nw, od = (
            bool_mask(pc.is_valid(in_write)),
            bool_mask(pc.is_valid(in_new)),
            bool_mask(pc.is_valid(in_old)),
        )
        missing = ~w & ~nw & ~od
        for i in np.nonzero(missing)[0]:
            line = tombs.column("source_line")[i].as_py()
            self.result.unresolved.append(
                Unresolved(
                    int(files[i].as_py()),
                    line,
                    str(ids[i].as_py()),
                    tombs.column("deleted_at")[i].as_py(),
                )
            )
        when = tombs.column("deleted_at")
        # Rows this import writes anyway: set deleted_at on them (one version, not two).
        if w.any():
            idx = pc.fill_null(in_write, -1).to_numpy(zero_copy_only=False)
            deleted_at = to_write.column("deleted_at").combine_chunks()
            values = deleted_at.to_pylist()
            for t in np.nonzero(w)[0]:
                if values[idx[t]] is None:
                    values[idx[t]] = when[t].as_py()
            to_write = to_write.set_column(
                to_write.schema.get_field_index("deleted_at"),
                "deleted_at",
                pa.array(values, TIMESTAMP),
            )
            self.count("imported", files, w)
            self.count("deleted", files, w)
        # Otherwise: a new version of the current row (this import's unchanged one, or stored).
        rest = ~w & ~missing
        if rest.any():
            source = pc.if_else(pa.array(nw), 0, 1).to_numpy(zero_copy_only=False)
            base_rows = []
            for t in np.nonzero(rest)[0]:
                table, where = (new, in_new) if source[t] == 0 else (existing, in_old)
                base_rows.append(table.slice(int(where[t].as_py()), 1))
            base = pa.concat_tables([r.cast(self.spec.schema) for r in base_rows])
            already = bool_mask(pc.is_valid(base.column("deleted_at")))
            sel = np.nonzero(rest)[0]
            fresh = ~already
            self.count("unchanged", files.take(pa.array(sel)), already)
            if fresh.any():
                pick = pa.array(np.nonzero(fresh)[0])
                versions = base.take(pick)
                chosen = tombs.take(pa.array(sel[fresh]))
                versions = versions.set_column(
                    versions.schema.get_field_index("deleted_at"),
                    "deleted_at",
                    chosen.column("deleted_at"),
                )
                for col in ("import_seq", "source_file", "source_line"):
                    value = (
                        pa.array(np.full(versions.num_rows, self.w.seq, dtype=np.int32))
                        if col == "import_seq"
                        else chosen.column(col)
                    )
                    versions = versions.set_column(
                        versions.schema.get_field_index(col), self.spec.schema.field(col), value
                    )
                self.count("imported", chosen.column("source_file"))
                self.count("deleted", chosen.column("source_file"))
                to_write = pa.concat_tables([to_write.cast(self.spec.schema), versions])
        return to_write
