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
from consentry.errors import ConsentryError
from consentry.ledger import AsOf, LedgerStore, Resolved
from consentry.model import SHARE, Reason, Scope
from consentry.policy import Policy, verdicts
from consentry.policy.frame import StateIndex
from consentry.snapshot.arrays import contains
from consentry.snapshot.arrow_memory import build_memory_pool, release_freed_memory
from consentry.snapshot.census import (
    CENSUS_COLUMNS,
    SCAN_CHUNK,
    Census,
    coalesced,
    content_keys,
    take_census,
)
from consentry.snapshot.manifest import (
    MANIFEST_NAME,
    MERKLE_SCHEME,
    Manifest,
    croissant,
    dataset_card,
    leaf_hashes,
    shard_leaves,
)
from consentry.snapshot.merkle import StreamingRoot
from consentry.snapshot.records import (
    INTERACTION_SCHEMA,
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    RecordMaker,
    included,
)
from consentry.snapshot.source import ContentSource
from consentry.snapshot.writer import ShardInfo, ShardWriter, WorkFolder

#: Rows per scan batch. No larger than a content segment's row group at small sizes (~16k rows
#: at 1M items): larger batches only exist on larger platforms, so the working set of each
#: batch, and with it the peak memory, grew with the platform (measured peak RSS, one-thread
#: reads: 1M 323 MB, 10M 368 MB with 64k rows; 331 MB and 354–361 MB with 16k; CPU within
#: noise).
DEFAULT_BATCH: Final = 16_384
DEFAULT_SHARD_ROWS: Final = 1_000_000
#: Included rows gathered before records are made: scrubbing costs ~6 ms per call, so fewer
#: rows cost more calls, but each call's working set (texts scrubbed detector by detector,
#: pseudonyms, the encoded row group) sets the records pass's peak memory. Measured at 10M posts
#: (peak RSS, CPU-seconds): 64k rows 440 MB, 28.0 s; 32k 379 MB, 29.3 s; 16k 348 MB, 28.6 s
#: (before the phone validator's frame cycle was fixed, which had inflated larger chunks more).
RECORD_CHUNK: Final = 16_384
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


class IncludedSink(Protocol):
    """Told of every item and interaction a build includes, with the ids as stored (never in an
    output): for whoever must know exactly which items went in (compliance's delivery map),
    without reading the content a second time."""

    def content(self, rows: pa.RecordBatch, entries: npt.NDArray[np.int64]) -> None:
        """Included items (``RECORD_COLUMNS``) and their authorising entries, in scan order."""
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
        index = self.state_index(spec, resolved)
        release_freed_memory()
        build_id = self._build_id(spec, resolved)
        work = WorkFolder(spec.out, build_id, workspace=self.workspace)
        work.open(force=spec.force)

        self.progress.phase("census", self.source.count())
        census = take_census(
            self.source.scan(CENSUS_COLUMNS, spec.batch_size),
            index,
            policy,
            on=at.date(),
            progress=self.progress.advance,
        )
        release_freed_memory()
        self.progress.phase("interactions", None)
        interactions, interaction_counts = self._write_interactions(
            spec, index, census, work, at.date(), sink
        )
        del index  # nothing later needs the ledger state: not resident through pass 2
        census.forget_included_keys()  # pass 2 asks ``parents_included``
        release_freed_memory()
        self.progress.phase("records", census.rows)
        self.maker.prepare()
        tree = StreamingRoot()
        shards, pii, resumed = self._write_records(spec, census, work, tree, sink)
        root, leaves = tree.root().hex(), tree.count
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

    def state_index(
        self, spec: BuildSpec, resolved: Resolved, *, use_checkpoints: bool = True
    ) -> StateIndex:
        purposes = [spec.purpose] + ([SHARE] if spec.recipient and spec.purpose != SHARE else [])
        accounts = self.ledger.account_states(resolved)
        consent = self.ledger.consent_state(
            resolved,
            purposes=purposes,
            recipient=spec.recipient,
            use_checkpoints=use_checkpoints,
        )
        return StateIndex(accounts, consent, spec.purpose, recipient=spec.recipient is not None)

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
            # Shards are cut at the scan's batch edges: a partial build from code that batched
            # the scan otherwise (whole buckets, before they were streamed) is not resumed.
            "scan": "streamed segments",
            "version": __version__,
        }
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return f"snap_{digest[:20]}"

    def _write_records(
        self,
        spec: BuildSpec,
        census: Census,
        work: WorkFolder,
        tree: StreamingRoot,
        sink: IncludedSink | None,
    ) -> tuple[list[ShardInfo], Counter[str], int]:
        """Pass 2. A shard holds the records of about ``shard_rows`` input items, cut at batch
        edges, so that the same input always gives the same shards; a shard sealed by a killed
        earlier run is kept as it is. Included rows are gathered into chunks of at least
        ``RECORD_CHUNK`` before records are made (fixed costs per call would dominate).
        Records' Merkle leaves go into ``tree`` as they are written, in shard and row order
        (reading the shards back for them cost a second pass over the output)."""
        shards: list[ShardInfo] = []
        pii: Counter[str] = Counter()
        resumed = 0
        writer: ShardWriter | None = None
        skipping = False
        shard_start = 0
        offset = 0
        pending: list[pa.RecordBatch] = []
        pending_entries: list[npt.NDArray[np.int64]] = []
        pending_rows: list[npt.NDArray[np.int64]] = []  # their rows in the scan

        def flush() -> None:
            if writer is None or not pending:
                return
            rows = pa.Table.from_batches(pending)
            parents = census.parents_included(np.concatenate(pending_rows))
            records, counts = self.maker.make(rows, np.concatenate(pending_entries), parents)
            writer.write(records)
            tree.add_leaves(
                leaf_hashes(records.column("record_id"), records.column("consent_entry"))
            )
            pii.update(counts)
            pending.clear()
            pending_entries.clear()
            pending_rows.clear()

        for batch in self.source.scan(RECORD_COLUMNS, spec.batch_size):
            if (writer is None and not skipping) or offset - shard_start >= spec.shard_rows:
                flush()
                if writer is not None:
                    shards.append(writer.close())
                writer, skipping, shard_start = None, False, offset
                relative = f"data/part-{len(shards):05d}.parquet"
                sealed = work.sealed(relative)
                if sealed is not None:
                    shards.append(sealed)
                    pii.update(_pii_counts(work.path / relative))
                    tree.add_leaves(shard_leaves(work.path / relative))
                    resumed += 1
                    skipping = True
                else:
                    writer = work.shard_writer(relative, RECORD_SCHEMA)
            end = offset + batch.num_rows
            if writer is not None or sink is not None:
                rows, entries, keep = included(
                    batch, census.reasons_between(offset, end), census.entries_between(offset, end)
                )
                if sink is not None and rows.num_rows:
                    sink.content(rows, entries)
                if writer is not None and rows.num_rows:
                    pending.append(rows)
                    pending_entries.append(entries)
                    pending_rows.append(keep + offset)
                if sum(b.num_rows for b in pending) >= RECORD_CHUNK:
                    flush()
            offset = end
            self.progress.advance(batch.num_rows)
        flush()
        if writer is not None:
            shards.append(writer.close())
        if not shards:  # no content at all: one empty shard keeps the layout uniform
            shards.append(work.shard_writer("data/part-00000.parquet", RECORD_SCHEMA).close())
        if offset != census.rows:
            raise ConsentryError(
                f"content changed during the build ({census.rows} items in the census, "
                f"{offset} when writing): build again"
            )
        return shards, pii, resumed

    def _write_interactions(
        self,
        spec: BuildSpec,
        index: StateIndex,
        census: Census,
        work: WorkFolder,
        on: date,
        sink: IncludedSink | None,
    ) -> tuple[list[ShardInfo], dict[str, int]]:
        """Interactions whose account may be used for the purpose (scope ``interactions``) and
        whose content is in the snapshot. ``index`` and ``on``: the census's own ledger state."""
        writer: ShardWriter | None = None
        seen = 0

        def linked() -> Iterator[pa.RecordBatch]:
            nonlocal writer, seen
            for batch in self.source.scan_interactions(spec.batch_size):
                if writer is None:
                    writer = work.shard_writer(
                        "interactions/part-00000.parquet", INTERACTION_SCHEMA
                    )
                seen += batch.num_rows
                # Most interactions are of content outside the snapshot: drop them before
                # asking for their account's verdict (the costly part), which only the others
                # need.
                keep = contains(census.included_keys, content_keys(batch.column("content_id")))
                if not keep.all():
                    batch = batch.take(pa.array(np.nonzero(keep)[0]))
                if batch.num_rows:
                    yield batch

        for batch in coalesced(linked(), SCAN_CHUNK):
            assert writer is not None
            reasons, entries = interaction_verdicts(batch, index, self.policy, on)
            writer.write(self.maker.interactions(batch, reasons, entries, census.included_keys))
            if sink is not None:
                # Their content is in the snapshot (``linked``): the account's verdict decides.
                kept = np.nonzero(reasons == Reason.ELIGIBLE)[0]
                if len(kept):
                    sink.interactions(batch.take(pa.array(kept)), entries[kept])
        if writer is None:
            return [], {"input": 0, "included": 0}
        info = writer.close()
        return [info], {"input": seen, "included": info.rows}

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


def _pii_counts(path: Path) -> Counter[str]:
    pii = pq.read_table(path, columns=["pii"])["pii"]
    return Counter(pc.list_flatten(pii).to_pylist()) if len(pii) else Counter()
