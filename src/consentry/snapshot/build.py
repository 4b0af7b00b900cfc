"""Build a snapshot: census (pass 1), interactions, records shard by shard (pass 2), manifest,
atomic publish. The same inputs, ledger position and keys give the same bytes.

Interactions come before the records: they are the last to need the ledger state (the verdict
of each interacting account), which then goes before pass 2 instead of staying resident
through it (at 100,000 accounts, ~7.5 MB).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from consentry import __version__
from consentry.ledger import AsOf, LedgerStore, Resolved
from consentry.model import SHARE, Scope
from consentry.policy import Policy, verdicts
from consentry.policy.frame import StateIndex
from consentry.snapshot import handle_parts, state_parts
from consentry.snapshot.arrays import concat
from consentry.snapshot.arrow_memory import build_memory_pool, release_freed_memory
from consentry.snapshot.census import SCAN_CHUNK
from consentry.snapshot.executors import Executor, LocalExecutor, Session, session_of
from consentry.snapshot.manifest import (
    MANIFEST_NAME,
    MERKLE_SCHEME,
    Manifest,
    croissant,
    dataset_card,
    shard_leaves,
)
from consentry.snapshot.merkle import StreamingRoot
from consentry.snapshot.records import (
    DISTINCT_RECORD_COLUMNS,
    RECORD_SCHEMA,
    RecordMaker,
)
from consentry.snapshot.source import ContentSource
from consentry.snapshot.steps import (
    CENSUS_TASK_ROWS,
    WHOLE_STATE_ROWS,
    CensusSummary,
    InteractionsResult,
    MakerRecipe,
    StateFoldTask,
    StepContext,
    SteppedCensus,
    census_tasks,
    dedup_tasks,
    included_items,
    load,
    plan_shards,
    save,
)
from consentry.snapshot.writer import ShardInfo, WorkFolder

#: Rows per scan batch. No larger than a content segment's row group at small sizes (~16k rows
#: at 1M items): larger batches only exist on larger platforms, so the working set of each
#: batch, and with it the peak memory, grew with the platform (measured peak RSS, one-thread
#: reads: 1M 323 MB, 10M 368 MB with 64k rows; 331 MB and 354–361 MB with 16k; CPU within
#: noise).
DEFAULT_BATCH: Final = 16_384
DEFAULT_SHARD_ROWS: Final = 1_000_000
CROISSANT_TYPES: Final = {
    "record_id": "sc:Text",
    "author": "sc:Text",
    "kind": "sc:Text",
    "lang": "sc:Text",
    "created_at": "sc:Date",
    "text": "sc:Text",
    "in_reply_to": "sc:Text",
    "quote_of": "sc:Text",
    "repost_of": "sc:Text",
    "conversation_id": "sc:Text",
    "pii": "sc:Text",
    "consent_entry": "sc:Integer",
}


@dataclass(frozen=True, slots=True)
class BuildSpec:
    purpose: str
    out: Path
    recipient: str | None = None
    as_of: AsOf = field(default_factory=AsOf)
    batch_size: int = DEFAULT_BATCH
    shard_rows: int = DEFAULT_SHARD_ROWS
    force: bool = False
    #: Items per census task (``steps.census_tasks``): what a worker holds, not what it makes.
    census_rows: int = CENSUS_TASK_ROWS
    #: A ledger state of at most this many rows is read whole by each process running tasks
    #: (``steps.WHOLE_STATE_ROWS``); 0: never, each task reads its own accounts' state.
    whole_state_rows: int = WHOLE_STATE_ROWS


class IncludedSink(Protocol):
    """Told of every item and interaction a build includes, with the ids as stored (never in an
    output): for whoever must know exactly which items went in (compliance's delivery map),
    without reading the content a second time."""

    def content(self, rows: pa.RecordBatch, entries: npt.NDArray[np.int64]) -> None:
        """Included items (their ``steps.SINK_COLUMNS``) and their authorising entries, in scan
        order."""
        ...

    def interactions(self, rows: pa.RecordBatch, entries: npt.NDArray[np.int64]) -> None:
        """Included interactions (``account_id``, ``content_id``, ``kind``, ``at``) and theirs."""
        ...


class PublishHook(Protocol):
    """Told just before a build publishes its snapshot (every file written, the manifest
    final) and just after: whoever records published snapshots (compliance's deliveries)
    records it first, so that a process killed at the rename leaves no snapshot it does not
    know of."""

    def publishing(self, manifest: Manifest, out: Path) -> None: ...

    def published(self, manifest: Manifest, out: Path) -> None: ...


class Progress(Protocol):
    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...


class SilentProgress:
    """Progress that shows nothing (library use, tests, non-terminals)."""

    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


@dataclass(frozen=True, slots=True)
class BuildResult:
    out: Path
    manifest: Manifest
    seconds: float
    resumed_shards: int

    @property
    def items_per_second(self) -> float:
        return self.manifest.counts["input"] / self.seconds if self.seconds else 0.0


@dataclass
class Builder:
    ledger: LedgerStore
    policy: Policy
    source: ContentSource
    maker: RecordMaker
    #: A fingerprint of the recipient's pseudonym key (never the key): a new key, a new build.
    key_fingerprint: str
    progress: Progress = field(default_factory=SilentProgress)
    #: Names of the PII detectors the scrubber runs: other detectors, another snapshot.
    detectors: tuple[str, ...] = ()
    #: The workspace read: an output may not replace it, and goes inside it only under snapshots/.
    workspace: Path | None = None
    #: Who runs the steps' tasks (default: the build's own process).
    executor: Executor = field(default_factory=lambda: LocalExecutor(1))
    #: Makes ``maker`` again in a worker process (when ``maker`` cannot be pickled).
    recipe: MakerRecipe | None = None

    def build(
        self,
        spec: BuildSpec,
        sink: IncludedSink | None = None,
        hook: PublishHook | None = None,
    ) -> BuildResult:
        """Build and publish the snapshot ``spec`` asks for; ``sink`` (optional) is told of
        every included item and interaction (those of shards resumed from a killed run too),
        ``hook`` (optional) of the publication."""
        with build_memory_pool():
            return self._build(spec, sink, hook)

    def snapshot_id(self, spec: BuildSpec) -> str:
        """The id the build of ``spec`` would give its snapshot, as of now."""
        return self._build_id(spec, self.ledger.resolve(spec.as_of))

    def _build(
        self, spec: BuildSpec, sink: IncludedSink | None, hook: PublishHook | None
    ) -> BuildResult:
        started = time.perf_counter()
        WorkFolder(spec.out, "", workspace=self.workspace).check(force=spec.force)  # before work
        policy = self.policy
        policy.require_purpose(spec.purpose)
        resolved = self.ledger.resolve(spec.as_of)
        at = self.ledger.position_time(resolved)
        build_id = self._build_id(spec, resolved)
        work = WorkFolder(spec.out, build_id, workspace=self.workspace)
        work.open(force=spec.force)
        ctx = StepContext(
            source=self.source,
            policy=policy,
            maker=self.recipe or self.maker,
            work=work.path,
            purpose=spec.purpose,
            recipient=spec.recipient is not None,
            on=at.date(),
            batch_size=spec.batch_size,
            whole_state_rows=spec.whole_state_rows,
        )
        ctx.discard_leftover()
        state = ctx.steps / "state"
        # The session first: local workers start while this process exports the state.
        with session_of(self.executor, ctx) as run:
            folds: Iterator[None] | None = None
            if not state_parts.written(state):
                # Partitioned by account hash, window by window, then folded partition by
                # partition, by the workers: no process ever holds every account's state;
                # each task reads its accounts' share.
                count = state_parts.export_entries(
                    state, self.ledger, resolved, self._purposes(spec)
                )
                folds = run.map("state", [StateFoldTask(p, spec.recipient) for p in range(count)])
                release_freed_memory()
            if not handle_parts.written(ctx.handles):
                # Likewise every account's handle, for mentions, by the handle's hash, in as
                # many partitions as the state (both grow with the ledger), while the workers
                # fold the state.
                partitions = state_parts.partitions_for(resolved.position.seq)
                handle_parts.export_handles(ctx.handles, self.source, partitions)
                release_freed_memory()
            if folds is not None:
                for _ in folds:  # every partition folded (a worker's failure is raised here)
                    pass
                state_parts.seal_state(state, count)
            census = self._census(spec, ctx, run)
            release_freed_memory()
            self.progress.phase("interactions", None)
            save(ctx.steps / "included-keys.arrow", pa.table({"key": census.included_keys}))
            interacting = run.map("interactions", [0])
            # The records do not need the interactions: their tasks start now too, after the
            # interactions' one task, which then runs beside them instead of alone.
            included = [census.included_rows(b) for b in range(len(census.summaries))]
            plans = plan_shards(census.summaries, spec.shard_rows, census.references, included)
            pending = run.map("records", plans)
            (result,) = interacting
            interactions, interaction_counts = self._interactions(ctx, result, sink)
            census.forget_included_keys()
            if sink is not None:  # every included item, as stored, in scan order, told while
                for plan in plans:  # the workers make the records (shards resumed included)
                    for rows, entries in included_items(ctx, plan):
                        sink.content(rows, entries)
            self.progress.phase("records", census.rows)
            tree = StreamingRoot()
            shards: list[ShardInfo] = []
            pii: Counter[str] = Counter()
            resumed = 0
            for plan, done in zip(plans, pending, strict=True):
                shards.append(done.shard)
                pii.update(done.pii)
                resumed += done.resumed
                tree.add_pieces(done.pieces)
                self.progress.advance(sum(census.rows_of(b) for b in plan.buckets))
        if not shards:  # no content at all: one empty shard keeps the layout uniform
            empty = work.shard_writer(
                "data/part-00000.parquet", RECORD_SCHEMA, DISTINCT_RECORD_COLUMNS
            ).close()
            shards.append(empty)
            tree.add_leaves(shard_leaves(work.path / empty.path))
        root, leaves = tree.root().hex(), tree.count
        ctx.discard_steps()
        manifest = Manifest(
            snapshot_id=build_id,
            created=at.isoformat(),
            purpose=spec.purpose,
            recipient=spec.recipient,
            ledger={
                "seq": resolved.position.seq,
                "head": resolved.position.hash,
                "as_of": at.isoformat(),
                "time_bound_us": resolved.time_bound_us,
            },
            policy={
                "source": Path(policy.source).name,
                "version": policy.version,
                "sha256": policy.sha256,
            },
            counts={
                "input": census.rows,
                "included": census.included,
                "excluded": census.counts(),
                "age_unknown_included": census.age_unknown_included,
                "pii_replaced": dict(sorted(pii.items())),
                "interactions": interaction_counts,
            },
            shards=[asdict(s) for s in shards],
            interactions=[asdict(s) for s in interactions],
            merkle={"scheme": MERKLE_SCHEME, "root": root, "leaves": leaves},
            record_columns=list(RECORD_SCHEMA.names),
            pseudonyms={
                "scheme": "keyed BLAKE2b, keys derived per recipient from the workspace secret "
                "with HKDF-SHA256",
                "key_fingerprint": self.key_fingerprint,
            },
            scrub={"detectors": list(self.detectors)},
        )
        work.write_file(MANIFEST_NAME, manifest.to_json())
        work.write_file("README.md", dataset_card(manifest, self._languages(work.path, shards)))
        work.write_file("croissant.json", croissant(manifest, CROISSANT_TYPES))
        if hook is not None:
            hook.publishing(manifest, spec.out)
        work.publish(force=spec.force)
        if hook is not None:
            hook.published(manifest, spec.out)
        return BuildResult(spec.out, manifest, time.perf_counter() - started, resumed)

    def _census(self, spec: BuildSpec, ctx: StepContext, run: Session) -> SteppedCensus:
        """The census map over every bucket, then its global reductions (duplicates, reposts)
        and the settled verdicts, bucket by bucket."""
        buckets, rows = self.source.buckets(spec.batch_size), self.source.count()
        self.progress.phase("census", rows)
        summaries: list[CensusSummary] = []
        for done in run.map("census", census_tasks(buckets, rows, spec.census_rows)):
            summaries.extend(done)
            self.progress.advance(sum(s.rows for s in done))
        census = SteppedCensus(ctx.steps, summaries)
        duplicates = np.sort(concat(list(run.map("dedup", dedup_tasks(census.offsets))), np.int64))
        census.settle(duplicates)
        return census

    def _interactions(
        self, ctx: StepContext, result: InteractionsResult, sink: IncludedSink | None
    ) -> tuple[list[ShardInfo], dict[str, int]]:
        if result.shard is None:
            return [], {"input": 0, "included": 0}
        if sink is not None:
            rows = load(ctx.steps / "interactions-included.arrow")
            for batch in rows.to_batches(max_chunksize=SCAN_CHUNK):
                entries = batch.column("entry").to_numpy().astype(np.int64)
                sink.interactions(batch.drop_columns(["entry"]), entries)
        return [result.shard], {"input": result.seen, "included": result.shard.rows}

    def state_index(
        self, spec: BuildSpec, resolved: Resolved, *, use_checkpoints: bool = True
    ) -> StateIndex:
        accounts, consent = self.state_tables(spec, resolved, use_checkpoints=use_checkpoints)
        return StateIndex(accounts, consent, spec.purpose, recipient=spec.recipient is not None)

    def state_tables(
        self, spec: BuildSpec, resolved: Resolved, *, use_checkpoints: bool = True
    ) -> tuple[pa.Table, pa.Table]:
        """The account and consent state the build of ``spec`` decides on."""
        purposes = self._purposes(spec)
        accounts = self.ledger.account_states(resolved)
        consent = self.ledger.consent_state(
            resolved,
            purposes=purposes,
            recipient=spec.recipient,
            use_checkpoints=use_checkpoints,
        )
        return accounts, consent

    @staticmethod
    def _purposes(spec: BuildSpec) -> list[str]:
        """The purposes whose consent the build of ``spec`` reads."""
        return [spec.purpose] + ([SHARE] if spec.recipient and spec.purpose != SHARE else [])

    def _build_id(self, spec: BuildSpec, resolved: Resolved) -> str:
        identity = {
            "purpose": spec.purpose,
            "recipient": spec.recipient,
            "position": str(resolved.position),
            "time_bound": resolved.time_bound_us,
            "policy": self.policy.sha256,
            "content": self.source.fingerprint(),
            "key": self.key_fingerprint,
            "detectors": list(self.detectors),
            "shard_rows": spec.shard_rows,
            "batch_size": spec.batch_size,
            # Shards are cut at the scan's batch edges, and the records read what the census
            # kept: a partial build from code that did either otherwise is not resumed.
            "scan": "steps by bucket, records from the census",
            "version": __version__,
        }
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return f"snap_{digest[:20]}"

    @staticmethod
    def _languages(root: Path, shards: list[ShardInfo]) -> list[str]:
        langs: set[str] = set()
        for shard in shards:
            column = pq.read_table(root / shard.path, columns=["lang"])["lang"]
            langs.update(v for v in pc.unique(column).to_pylist() if v)
        return sorted(langs)


def interaction_verdicts(
    batch: pa.RecordBatch, index: StateIndex, policy: Policy, on: date
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]:
    """The verdict of each interaction's account (scope ``interactions``) and the entry that
    authorised it; the interaction goes in only if its content does too
    (``RecordMaker.interactions``)."""
    n = batch.num_rows
    items = pa.table(
        {
            "author_id": batch.column("account_id"),
            "kind": pa.repeat(pa.scalar("post", pa.string()), n),
            "visibility": pa.repeat(pa.scalar("public", pa.string()), n),
            "deleted": pa.repeat(pa.scalar(False, pa.bool_()), n),
        }
    )
    frame = index.frame(items, scope=Scope.INTERACTIONS)
    reasons = verdicts(frame, policy, index.purpose, recipient=index.recipient, on=on)
    entries = pc.fill_null(frame["consent_seq"], -1).to_numpy().astype(np.int64)
    return reasons, entries
