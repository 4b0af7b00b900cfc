"""The build as steps (datatrove's shape: each step a small class with one method, ``run``, over
one task), whatever executes them: the build's own process, local worker processes, Ray tasks.

- ``StateFold``, one task per partition of the ledger state: the entries the build's process
  exported by account hash (``state_parts.export_entries``), folded into that partition's state.
- ``CensusMap``, one task per run of content buckets (``census_tasks``): the verdict of each
  item, with the ledger state of those buckets' authors only; what the global reductions need
  (duplicate candidates, eligible reposts, references of eligible items).
- ``DedupReduce``, one task per group of hash partitions: exact duplicates (``dedup``).
- repost settling and the settled verdicts (``reposts``), in the build's process: a graph over
  the whole platform, 16 bytes per eligible repost.
- ``InteractionsMap``: interactions whose account may be used and whose content is included.
- ``RecordsMap``, one task per shard (a run of whole buckets): scrub, pseudonymise, references
  kept only inside the snapshot, the shard sealed.
- publish (``build.Builder``): shards in order, Merkle root, manifest, atomic rename.

Everything a task writes is keyed by (content bucket, row in the bucket) and goes into the
build's work folder (``.OUT.partial/steps``) as Arrow IPC files, sealed by a marker once the task
is done: a build killed at any point resumes from the tasks already sealed, and since what a
task writes depends only on its inputs, the snapshot's bytes depend neither on who ran which
task nor on how many ran at once.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from consentry.model import Reason
from consentry.policy import Policy
from consentry.policy.frame import StateIndex
from consentry.snapshot.arrays import concat, contains
from consentry.snapshot.census import (
    CENSUS_COLUMNS,
    REFERENCE,
    REFERENCE_COLUMNS,
    SCAN_CHUNK,
    census_of_batch,
    coalesced,
    content_keys,
)
from consentry.snapshot.dedup import CANDIDATE, DEDUP_PARTITIONS, duplicate_rows, partition_of
from consentry.snapshot.manifest import leaf_hashes
from consentry.snapshot.merkle import Pieces, pieces
from consentry.snapshot.records import (
    DISTINCT_RECORD_COLUMNS,
    INTERACTION_SCHEMA,
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    RecordMaker,
)
from consentry.snapshot.roots import shard_pieces
from consentry.snapshot.source import ContentSource
from consentry.snapshot.state_parts import MARKER as STATE_MARKER
from consentry.snapshot.state_parts import (
    KeyedState,
    fold_partition,
    read_keyed_state,
    read_whole_state,
    state_rows,
)
from consentry.snapshot.writer import ShardInfo, WorkFolder

STEPS_DIR: Final = "steps"
DISCARDED_DIR: Final = "steps.discarded"
DONE: Final = ".done"
#: Included rows gathered before records are made: scrubbing costs ~6 ms per call, so fewer
#: rows cost more calls, but each call's working set (texts scrubbed detector by detector,
#: pseudonyms, the encoded row group) sets the records pass's peak memory. Measured at 10M posts
#: (peak RSS, CPU-seconds): 64k rows 440 MB, 28.0 s; 32k 379 MB, 29.3 s; 16k 348 MB, 28.6 s
#: (before the phone validator's frame cycle was fixed, which had inflated larger chunks more).
RECORD_CHUNK: Final = 16_384
#: Hash partitions settled by one dedup task.
PARTITIONS_PER_TASK: Final = 8
INTERACTIONS_SHARD: Final = "interactions/part-00000.parquet"
#: What a build's ``IncludedSink`` is told of each included item, with its authorising entry.
SINK_COLUMNS: Final = ("content_id", "author_id", "kind", "repost_of")
#: What the census reads of each item: its own columns and the records'. It keeps the
#: record columns of the items eligible before settling (``eligible``, with their rows in the
#: bucket): the records map reads those, not the store again (decoding the stored content was
#: a fifth of a build's CPU, and was done twice). Settling only excludes, so nothing is missed.
SCANNED_COLUMNS: Final = tuple(dict.fromkeys((*CENSUS_COLUMNS, *RECORD_COLUMNS)))
ELIGIBLE_ROW: Final = "_row"
#: A ledger state of at most this many rows (accounts' and consent's) is read whole by each
#: process that runs tasks, once per build, and kept for all its tasks: otherwise every census
#: task walks every partition for its authors, who, on a platform of few accounts, are most of
#: them (100,000 accounts, 2,000,000 posts: a tenth of the build's CPU went to reading the same
#: state again in each of 31 tasks). Such a state is ~310,000 rows, ~46 MB while it is read,
#: ~15 MB kept. A bound, not a share of the platform: past it, each task reads its own
#: accounts' state, and a worker's memory stays independent of the accounts.
WHOLE_STATE_ROWS: Final = 524_288


class MakerRecipe(Protocol):
    """Makes the record maker in the process that runs a task (a scrubber's detectors need not
    survive pickling)."""

    def __call__(self) -> RecordMaker: ...


@dataclass(frozen=True)
class StepContext:
    """What every task of one build needs; sent once to each worker."""

    source: ContentSource
    policy: Policy
    maker: RecordMaker | MakerRecipe
    work: Path  # the build's work folder
    purpose: str
    recipient: bool
    on: date
    batch_size: int
    whole_state_rows: int = WHOLE_STATE_ROWS
    _made: dict[str, RecordMaker] = field(default_factory=dict, compare=False, repr=False)

    @property
    def steps(self) -> Path:
        return self.work / STEPS_DIR

    def discard_steps(self) -> None:
        """The steps' files, gone once the shards are written: renamed away first, in one
        step, then deleted. A build killed while they were deleted in place left markers
        whose files were gone (a sealed census bucket without its verdicts), and the build
        resumed from them failed; what a killed deletion leaves now is only this leftover,
        which ``discard_leftover`` removes."""
        trash = self.work / DISCARDED_DIR
        shutil.rmtree(trash, ignore_errors=True)
        if self.steps.exists():
            os.replace(self.steps, trash)
        shutil.rmtree(trash)

    def discard_leftover(self) -> None:
        """What a build killed while discarding its steps left (see ``discard_steps``)."""
        shutil.rmtree(self.work / DISCARDED_DIR, ignore_errors=True)

    @property
    def handles(self) -> Path:
        """Every account's handle, by partition (``handle_parts``), for mentions."""
        return self.steps / "handles"

    def record_maker(self) -> RecordMaker:
        if isinstance(self.maker, RecordMaker):
            return self.maker
        if "maker" not in self._made:
            maker = self.maker()
            # A scrubber that can resolve mentions against the build's partitioned handles,
            # rather than an index of every handle in each worker, is told where they are.
            use_handles = getattr(maker.scrub, "use_handles", None)
            if use_handles is not None:
                use_handles(self.handles)
            self._made["maker"] = maker
        return self._made["maker"]

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "_made"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_made", {})


# ---- files of the steps ----------------------------------------------------------------------


#: How an Arrow IPC file begins (an IPC stream does not).
_IPC_FILE_MAGIC: Final = b"ARROW1"


def save(path: Path, table: pa.Table) -> None:
    """Write an Arrow IPC stream under a fresh name, then rename it into place. A stream, not
    an IPC file: a step reads the whole table, and opening a file reads its footer through
    Arrow's I/O threads (a wait per file, several files per task)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def load(path: Path) -> pa.Table:
    """What ``save`` wrote (or, in the work of a build begun by an earlier Consentry, an IPC
    file)."""
    with pa.memory_map(str(path)) as source:
        if source.read(len(_IPC_FILE_MAGIC)) == _IPC_FILE_MAGIC:
            table: pa.Table = pa.ipc.open_file(source).read_all()
        else:
            source.seek(0)
            table = pa.ipc.open_stream(source).read_all()
    return table


def column(table: pa.Table, name: str, dtype: Any) -> Any:
    values = table[name]
    if values.num_chunks == 0 or len(values) == 0:
        return np.empty(0, dtype=dtype)
    return np.asarray(values.to_numpy(), dtype=dtype)


def structured(table: pa.Table, dtype: np.dtype[Any]) -> npt.NDArray[np.void]:
    out = np.empty(table.num_rows, dtype=dtype)
    for name in dtype.names or ():
        out[name] = column(table, name, dtype[name])
    return out


def table_of(records: npt.NDArray[np.void]) -> pa.Table:
    return pa.table({name: records[name] for name in records.dtype.names or ()})


def mark(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, sort_keys=True), "utf-8")
    os.replace(tmp, path)


def marked(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def bucket_file(steps: Path, kind: str, bucket: int) -> Path:
    return steps / kind / f"bucket-{bucket:05d}.arrow"


# ---- state fold ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateFoldTask:
    partition: int
    recipient: str | None


class StateFold:
    """One partition of the ledger state, folded from the entries the build's process exported
    (``state_parts.export_entries``). Not sealed on its own: the build seals the state once
    every partition is folded, and a resumed build exports and folds it again."""

    def run(self, ctx: StepContext, task: StateFoldTask) -> None:
        fold_partition(ctx.steps / "state", task.partition, task.recipient)


# ---- census map ------------------------------------------------------------------------------


def _index_of(ctx: StepContext, ids: Callable[[], Any]) -> StateIndex:
    """The ledger state of the accounts ``ids()``, read from the build's partitions; or the
    whole state, when it is small (``WHOLE_STATE_ROWS``), read once by this process."""
    folder = ctx.steps / "state"
    whole = _WHOLE_STATE.index(ctx, folder)
    return whole if whole is not None else _index(ctx, read_keyed_state(folder, ids()))


def _index(ctx: StepContext, state: KeyedState) -> StateIndex:
    keys = (state.account_keys, state.consent_keys)
    return StateIndex(
        state.accounts, state.consent, ctx.purpose, recipient=ctx.recipient, keys=keys
    )


class _WholeState:
    """The one whole state this process keeps (``WHOLE_STATE_ROWS``), for the build whose
    sealed state it is: a state sealed again (a resumed build) or another build's is read
    anew, and the one kept before is dropped."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._index: StateIndex | None = None

    def index(self, ctx: StepContext, folder: Path) -> StateIndex | None:
        if ctx.whole_state_rows <= 0:
            return None
        seal = (folder / STATE_MARKER).stat()
        key = (str(folder), seal.st_ino, seal.st_mtime_ns, ctx.purpose, ctx.recipient)
        if key != self._key:
            self._key, self._index = key, None
            if state_rows(folder, at_most=ctx.whole_state_rows) <= ctx.whole_state_rows:
                self._index = _index(ctx, read_whole_state(folder))
        return self._index

    def forget(self) -> None:
        self._key, self._index = None, None


_WHOLE_STATE: Final = _WholeState()


def forget_whole_state() -> None:
    """Drop the whole state this process kept for a build's tasks (a build done in the
    build's own process: its memory is not kept for the next)."""
    _WHOLE_STATE.forget()


@dataclass(frozen=True, slots=True)
class CensusSummary:
    bucket: int
    rows: int
    tally: list[int]
    age_unknown: int


@dataclass(frozen=True, slots=True)
class CensusTask:
    buckets: tuple[int, ...]  # consecutive content buckets, each written on its own


#: Rows (content items) a census task covers at most, by the store's average bucket: the
#: ledger state of a task's authors is read once for all its buckets (each read walks every
#: state partition), and a worker holds that state for as many items as this, at most. Twice
#: this, a worker's peak grew ×1.15 from 100,000 to 10,000,000 accounts at 1,000,000 posts
#: (a task's authors are fewer than its items only while the accounts are); with this, ×1.05.
CENSUS_TASK_ROWS: Final = 65_536


def census_tasks(buckets: int, rows: int, per_task: int = CENSUS_TASK_ROWS) -> list[CensusTask]:
    """The census's tasks: runs of consecutive buckets of about ``per_task`` items in all
    (``rows`` items in ``buckets`` buckets; content ids hash evenly over buckets)."""
    average = -(-rows // buckets) if buckets else 0
    size = max(1, per_task // average) if average else max(buckets, 1)
    return [
        CensusTask(tuple(range(first, min(first + size, buckets))))
        for first in range(0, buckets, size)
    ]


class CensusMap:
    """Content buckets, each on its own: verdicts before settling, entries, keys (``census``),
    duplicate candidates (``candidates``), references (``references``), eligible reposts
    (``reposts``). The task's buckets share one read of their authors' ledger state."""

    def run(self, ctx: StepContext, task: CensusTask) -> list[CensusSummary]:
        markers = [bucket_file(ctx.steps, "census", b).with_suffix(DONE) for b in task.buckets]
        done = [marked(m) for m in markers]
        todo = [b for b, d in zip(task.buckets, done, strict=True) if d is None]
        index = _index_of(ctx, lambda: self._authors(ctx, todo)) if todo else None
        summaries: list[CensusSummary] = []
        for bucket, marker, facts in zip(task.buckets, markers, done, strict=True):
            if facts is not None:
                summaries.append(CensusSummary(**facts))
            else:
                assert index is not None
                summaries.append(self._bucket(ctx, bucket, index, marker))
        return summaries

    @staticmethod
    def _authors(ctx: StepContext, buckets: Sequence[int]) -> Any:
        authors = [
            b.column("author_id")
            for bucket in buckets
            for b in ctx.source.scan_bucket(bucket, ["author_id"], ctx.batch_size)
        ]
        return pa.chunked_array(authors, pa.string()) if authors else pa.array([], pa.string())

    @staticmethod
    def _bucket(ctx: StepContext, bucket: int, index: StateIndex, marker: Path) -> CensusSummary:
        parts: dict[str, list[Any]] = {
            k: [] for k in ("reason", "entry", "key", "cand", "ref", "rrow", "rorig")
        }
        tally = np.zeros(len(Reason), dtype=np.int64)
        age_unknown = 0
        offset = 0
        kept = StreamFile(bucket_file(ctx.steps, "eligible", bucket))
        batches = ctx.source.scan_bucket(bucket, SCANNED_COLUMNS, ctx.batch_size)
        for batch in coalesced(batches, SCAN_CHUNK):
            part = census_of_batch(batch, index, ctx.policy, ctx.on)
            eligible = np.flatnonzero(part.reasons == Reason.ELIGIBLE)
            if len(eligible):
                rows = batch.select(list(RECORD_COLUMNS))
                if len(eligible) != batch.num_rows:
                    rows = rows.take(pa.array(eligible))
                kept.add(rows.append_column(ELIGIBLE_ROW, pa.array(eligible + offset)))
            parts["reason"].append(part.reasons)
            parts["entry"].append(part.entries)
            parts["key"].append(part.keys)
            part.candidates["row"] += offset
            parts["cand"].append(part.candidates)
            part.references["code"] += offset * len(REFERENCE_COLUMNS)
            parts["ref"].append(part.references)
            parts["rrow"].append(part.repost_rows + offset)
            parts["rorig"].append(part.repost_originals)
            tally += part.tally
            age_unknown += part.age_unknown
            offset += batch.num_rows
        save(
            bucket_file(ctx.steps, "census", bucket),
            pa.table(
                {
                    "reason": concat(parts["reason"], np.int8),
                    "entry": concat(parts["entry"], np.int64),
                    "key": concat(parts["key"], np.uint64),
                }
            ),
        )
        save(
            bucket_file(ctx.steps, "candidates", bucket),
            table_of(_cat_records(parts["cand"], CANDIDATE)),
        )
        save(
            bucket_file(ctx.steps, "references", bucket),
            table_of(_cat_records(parts["ref"], REFERENCE)),
        )
        save(
            bucket_file(ctx.steps, "reposts", bucket),
            pa.table(
                {
                    "row": concat(parts["rrow"], np.int64),
                    "original": concat(parts["rorig"], np.uint64),
                }
            ),
        )
        kept.close()
        summary = CensusSummary(bucket, offset, [int(n) for n in tally], age_unknown)
        mark(
            marker,
            {"bucket": bucket, "rows": offset, "tally": summary.tally, "age_unknown": age_unknown},
        )
        return summary


def _cat_records(parts: list[npt.NDArray[np.void]], dtype: np.dtype[Any]) -> npt.NDArray[np.void]:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


# ---- dedup reduce ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DedupTask:
    first: int  # first hash partition of the task
    count: int
    offsets: tuple[int, ...]  # each bucket's first row in scan order


class DedupReduce:
    """Duplicates (scan rows, ascending) among the candidates of some hash partitions, gathered
    from every bucket: the shuffle. Written to ``dedup/part-NN.arrow``."""

    def run(self, ctx: StepContext, task: DedupTask) -> npt.NDArray[np.int64]:
        path = ctx.steps / "dedup" / f"part-{task.first:02d}.arrow"
        if marked(path.with_suffix(DONE)) is not None:
            return column(load(path), "row", np.int64)  # type: ignore[no-any-return]
        gathered: list[npt.NDArray[np.void]] = []
        for bucket, offset in enumerate(task.offsets):
            cands = structured(load(bucket_file(ctx.steps, "candidates", bucket)), CANDIDATE)
            part = partition_of(cands)
            chosen = cands[(part >= task.first) & (part < task.first + task.count)]
            chosen["row"] += offset
            gathered.append(chosen)
        every = _cat_records(gathered, CANDIDATE)
        part = partition_of(every)
        rows = duplicate_rows(every[part == p] for p in range(task.first, task.first + task.count))
        save(path, pa.table({"row": rows}))
        mark(path.with_suffix(DONE), {"rows": len(rows)})
        return rows


def dedup_tasks(offsets: Sequence[int]) -> list[DedupTask]:
    return [
        DedupTask(first, PARTITIONS_PER_TASK, tuple(offsets))
        for first in range(0, DEDUP_PARTITIONS, PARTITIONS_PER_TASK)
    ]


# ---- interactions map ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InteractionsResult:
    shard: ShardInfo | None
    seen: int


class InteractionsMap:
    """Interactions whose account may be used for the purpose (scope ``interactions``) and whose
    content is included (``included-keys.arrow``), with the state of those accounts only; the
    included rows as stored go to ``interactions-included.arrow`` (for the build's sink)."""

    def run(self, ctx: StepContext, _: int) -> InteractionsResult:
        from consentry.snapshot.build import interaction_verdicts

        marker = ctx.steps / "interactions.done"
        done = marked(marker)
        if done is not None:
            info = done["shard"]
            return InteractionsResult(ShardInfo(**info) if info else None, int(done["seen"]))
        keys = column(load(ctx.steps / "included-keys.arrow"), "key", np.uint64)
        seen = 0
        linked: list[pa.RecordBatch] = []
        any_batch = False
        for batch in ctx.source.scan_interactions(ctx.batch_size):
            any_batch = True
            seen += batch.num_rows
            keep = contains(keys, content_keys(batch.column("content_id")))
            if not keep.all():
                batch = batch.take(pa.array(np.nonzero(keep)[0]))
            if batch.num_rows:
                linked.append(batch)
        shard: ShardInfo | None = None
        sink_rows: list[pa.RecordBatch] = []
        sink_entries: list[npt.NDArray[np.int64]] = []
        if any_batch:
            maker = ctx.record_maker()
            work = WorkFolder.at(ctx.work)
            writer = work.shard_writer(INTERACTIONS_SHARD, INTERACTION_SCHEMA)
            for batch in coalesced(linked, SCAN_CHUNK):
                # The state of this chunk's accounts only: every interacting account's at once
                # grew with the accounts of the platform (a verdict reads its own row alone).
                index = _index_of(ctx, partial(batch.column, "account_id"))
                reasons, entries = interaction_verdicts(batch, index, ctx.policy, ctx.on)
                writer.write(maker.interactions(batch, reasons, entries, keys))
                kept = np.nonzero(reasons == Reason.ELIGIBLE)[0]
                if len(kept):
                    sink_rows.append(batch.take(pa.array(kept)))
                    sink_entries.append(entries[kept])
            shard = writer.close()
        schema = pa.schema(
            [
                ("account_id", pa.string()),
                ("content_id", pa.string()),
                ("kind", pa.string()),
                ("at", pa.timestamp("us", tz="UTC")),
            ]
        )
        rows = pa.Table.from_batches(sink_rows).cast(schema) if sink_rows else schema.empty_table()
        save(
            ctx.steps / "interactions-included.arrow",
            rows.append_column("entry", pa.array(concat(sink_entries, np.int64))),
        )

        mark(marker, {"shard": asdict(shard) if shard else None, "seen": seen})
        return InteractionsResult(shard, seen)


# ---- records map -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShardPlan:
    index: int
    buckets: tuple[int, ...]
    first_row: int  # scan row of the shard's first item
    first_leaf: int  # Merkle position of the shard's first record (included items before it)
    #: References between included items from the shard's rows (``Census.references`` codes).
    references: npt.NDArray[np.int64]

    @property
    def relative(self) -> str:
        return f"data/part-{self.index:05d}.parquet"


@dataclass(frozen=True, slots=True)
class ShardResult:
    shard: ShardInfo
    pii: dict[str, int]
    resumed: bool
    #: The shard's records as Merkle pieces (its whole blocks rooted, its loose leaves at
    #: both ends): hashed by the worker that made them; the build's process folds the pieces.
    pieces: Pieces


def plan_shards(
    summaries: Sequence[CensusSummary],
    shard_rows: int,
    references: npt.NDArray[np.int64],
    included: Sequence[int],
) -> list[ShardPlan]:
    """Whole buckets, in order, a new shard once one holds ``shard_rows`` input items: the same
    content, the same shards. ``included``: the included items of each bucket."""
    groups: list[list[int]] = []
    sizes: list[int] = []
    for s in summaries:
        if not groups or sizes[-1] >= shard_rows:
            groups.append([])
            sizes.append(0)
        groups[-1].append(s.bucket)
        sizes[-1] += s.rows
    plans: list[ShardPlan] = []
    start = leaf = 0
    width = len(REFERENCE_COLUMNS)
    for i, (group, size) in enumerate(zip(groups, sizes, strict=True)):
        lo, hi = np.searchsorted(references, [start * width, (start + size) * width])
        plans.append(ShardPlan(i, tuple(group), start, leaf, references[lo:hi].copy()))
        start += size
        leaf += sum(included[b] for b in group)
    return plans


class RecordsMap:
    """One shard: the records of its buckets' included items, sealed (a sealed shard of a killed
    run is kept as it is)."""

    def run(self, ctx: StepContext, plan: ShardPlan) -> ShardResult:
        work = WorkFolder.at(ctx.work)
        sealed = work.sealed(plan.relative)
        if sealed is not None:
            path = ctx.work / plan.relative
            return ShardResult(
                sealed, dict(pii_counts(path)), True, shard_pieces(str(path), plan.first_leaf)
            )
        maker = ctx.record_maker()
        maker.prepare()
        writer = work.shard_writer(plan.relative, RECORD_SCHEMA, DISTINCT_RECORD_COLUMNS)
        pii: Counter[str] = Counter()
        pending: list[pa.RecordBatch] = []
        pending_entries: list[npt.NDArray[np.int64]] = []
        pending_rows: list[npt.NDArray[np.int64]] = []
        leaves = bytearray()  # leaf hashes, joined
        width = len(REFERENCE_COLUMNS)

        def flush() -> None:
            if not pending:
                return
            rows = pa.Table.from_batches(pending)
            scan_rows = np.concatenate(pending_rows)
            codes = scan_rows[:, None] * width + np.arange(width)
            parents = contains(plan.references, codes.ravel()).reshape(-1, width)
            records, counts = maker.make(rows, np.concatenate(pending_entries), parents)
            writer.write(records)
            leaves.extend(leaf_hashes(records.column("record_id"), records.column("consent_entry")))
            pii.update(counts)
            pending.clear()
            pending_entries.clear()
            pending_rows.clear()

        for rows, kept_entries, scan_rows in _included_rows(ctx, plan):
            pending.append(rows)
            pending_entries.append(kept_entries)
            pending_rows.append(scan_rows)
            if sum(b.num_rows for b in pending) >= RECORD_CHUNK:
                flush()
        flush()
        return ShardResult(writer.close(), dict(pii), False, pieces(leaves, plan.first_leaf))


def included_items(
    ctx: StepContext, plan: ShardPlan
) -> Iterator[tuple[pa.RecordBatch, npt.NDArray[np.int64]]]:
    """The ids (``SINK_COLUMNS``) and authorising entries of a shard's included items, a batch
    at a time, in scan order: what the build tells its sink, from the census's files (while
    the workers make the shard's records from the same files), without the texts."""
    for rows, entries, _ in _included_rows(ctx, plan, SINK_COLUMNS):
        yield rows, entries


def _included_rows(
    ctx: StepContext, plan: ShardPlan, columns: Sequence[str] | None = None
) -> Iterator[tuple[pa.RecordBatch, npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """The included items of a shard's buckets, as the census kept them, a batch at a time
    (none of a batch without any): rows (their ``columns``; default: ``RECORD_COLUMNS``),
    authorising entries, scan rows."""
    offset = plan.first_row
    for bucket in plan.buckets:
        reasons = column(load(bucket_file(ctx.steps, "settled", bucket)), "reason", np.int8)
        entries = column(load(bucket_file(ctx.steps, "census", bucket)), "entry", np.int64)
        found = 0
        for batch in eligible_rows(bucket_file(ctx.steps, "eligible", bucket)):
            at = batch.column(ELIGIBLE_ROW).to_numpy()
            keep = np.flatnonzero(reasons[at] == Reason.ELIGIBLE)
            found += len(keep)
            if not len(keep):
                continue
            rows = batch.drop_columns([ELIGIBLE_ROW]) if columns is None else batch.select(columns)
            if len(keep) != len(at):
                rows = rows.take(pa.array(keep))
            yield rows, entries[at[keep]], at[keep] + offset
        # Settling only ever excludes: every included item was eligible in the census.
        if found != int(np.count_nonzero(reasons == Reason.ELIGIBLE)):
            raise AssertionError(f"bucket {bucket}: an included item the census did not keep")
        offset += len(reasons)


def eligible_rows(path: Path) -> Iterator[pa.RecordBatch]:
    """What the census kept of a bucket (``RECORD_COLUMNS`` and ``ELIGIBLE_ROW``), mapped: the
    batches refer to the file's pages, not to copies."""
    yield from pa.ipc.open_stream(pa.memory_map(str(path)))


class StreamFile:
    """An Arrow IPC stream written a batch at a time, published by ``close`` with a rename
    (until then, the path holds nothing: a killed task leaves no half-written file)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        self.writer: pa.ipc.RecordBatchStreamWriter | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        if self.writer is None:
            self.writer = pa.ipc.new_stream(str(self.tmp), batch.schema)
        self.writer.write_batch(batch)

    def close(self) -> None:
        if self.writer is None:  # nothing written: an empty file says so
            self.writer = pa.ipc.new_stream(str(self.tmp), pa.schema([]))
        self.writer.close()
        os.replace(self.tmp, self.path)


def pii_counts(path: Path) -> Counter[str]:
    import pyarrow.compute as pc

    pii = pq.read_table(path, columns=["pii"])["pii"]
    return Counter(pc.list_flatten(pii).to_pylist()) if len(pii) else Counter()


# ---- what executors run ----------------------------------------------------------------------

STEPS: Final[dict[str, Any]] = {
    "state": StateFold(),
    "census": CensusMap(),
    "dedup": DedupReduce(),
    "interactions": InteractionsMap(),
    "records": RecordsMap(),
}


def run_task(ctx: StepContext, step: str, task: Any) -> Any:
    """Run one task of a step (by name: what is sent to a worker is a name and a task)."""
    return STEPS[step].run(ctx, task)


# ---- settling, in the build's process --------------------------------------------------------


class SteppedCensus:
    """The census of a stepped build once its map tasks are done: settles what needs the whole
    platform (reposts, over the repost graph; duplicates come from ``DedupReduce``) and writes
    each bucket's settled verdicts (``settled/``) for the records map."""

    def __init__(self, steps: Path, summaries: Sequence[CensusSummary]) -> None:
        self.steps = steps
        self.summaries = list(summaries)
        sizes = [s.rows for s in self.summaries]
        self.offsets: list[int] = [0, *np.cumsum(sizes, dtype=np.int64).tolist()][: len(sizes)]
        self._ends = np.array([o + n for o, n in zip(self.offsets, sizes, strict=True)], np.int64)
        self.tally = np.zeros(len(Reason), dtype=np.int64)
        for s in self.summaries:
            self.tally += np.array(s.tally, dtype=np.int64)
        self.age_unknown_included = sum(s.age_unknown for s in self.summaries)
        self.included_keys: npt.NDArray[np.uint64] = np.empty(0, np.uint64)
        self.references: npt.NDArray[np.int64] = np.empty(0, np.int64)

    @property
    def rows(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def rows_of(self, bucket: int) -> int:
        return self.summaries[bucket].rows

    @property
    def included(self) -> int:
        return int(self.tally[Reason.ELIGIBLE])

    def counts(self) -> dict[str, int]:
        return {Reason(i).code: int(n) for i, n in enumerate(self.tally) if i and n}

    def forget_included_keys(self) -> None:
        self.included_keys = np.empty(0, dtype=np.uint64)

    def _census(self, bucket: int) -> pa.Table:
        return load(bucket_file(self.steps, "census", bucket))

    def included_rows(self, bucket: int) -> int:
        """How many of the bucket's items are in the snapshot (settled as eligible)."""
        reasons = column(load(bucket_file(self.steps, "settled", bucket)), "reason", np.int8)
        return int(np.count_nonzero(reasons == Reason.ELIGIBLE))

    def settled(self, bucket: int) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]:
        reasons = column(load(bucket_file(self.steps, "settled", bucket)), "reason", np.int8)
        entries = column(self._census(bucket), "entry", np.int64)
        return reasons, entries

    def _reasons_at(self, kind: str, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        """Verdicts (scanned: ``census``, or ``settled``) at scan ``rows`` (ascending)."""
        out = np.empty(len(rows), dtype=np.int8)
        which = np.searchsorted(self._ends, rows, side="right")
        for bucket in np.unique(which).tolist():
            at = np.nonzero(which == bucket)[0]
            values = column(load(bucket_file(self.steps, kind, bucket)), "reason", np.int8)
            out[at] = values[rows[at] - self.offsets[bucket]]
        return out

    def _key_chunks(self) -> Iterator[tuple[int, npt.NDArray[np.uint64]]]:
        for bucket, offset in enumerate(self.offsets):
            yield offset, column(self._census(bucket), "key", np.uint64)

    def settle(self, duplicates: npt.NDArray[np.int64]) -> None:
        from consentry.snapshot.census import Patches, included_references
        from consentry.snapshot.reposts import settle_reposts

        rows: list[npt.NDArray[np.int64]] = []
        originals: list[npt.NDArray[np.uint64]] = []
        for bucket, offset in enumerate(self.offsets):
            reposts = load(bucket_file(self.steps, "reposts", bucket))
            rows.append(column(reposts, "row", np.int64) + offset)
            originals.append(column(reposts, "original", np.uint64))
        repost_rows = concat(rows, np.int64)
        settled_reposts = settle_reposts(
            lambda at: self._reasons_at("census", at),
            duplicates,
            repost_rows,
            concat(originals, np.uint64),
            self._key_chunks,
        )
        patches = Patches(duplicates, repost_rows, settled_reposts)
        self.tally = patches.retally(self.tally)
        keys_in: list[npt.NDArray[np.uint64]] = []
        for bucket, offset in enumerate(self.offsets):
            census = self._census(bucket)
            reasons = column(census, "reason", np.int8).copy()
            patches.apply(offset, reasons)
            save(bucket_file(self.steps, "settled", bucket), pa.table({"reason": reasons}))
            keys_in.append(column(census, "key", np.uint64)[reasons == Reason.ELIGIBLE])
        keys = concat(keys_in, np.uint64)
        keys.sort()
        self.included_keys = keys
        width = len(REFERENCE_COLUMNS)

        def chunks() -> Iterator[npt.NDArray[np.void]]:
            for bucket, offset in enumerate(self.offsets):
                refs = structured(load(bucket_file(self.steps, "references", bucket)), REFERENCE)
                refs["code"] += offset * width
                yield refs

        self.references = included_references(
            chunks(), keys, lambda at: self._reasons_at("settled", at)
        )
