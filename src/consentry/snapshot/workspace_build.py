"""Wire a builder to a workspace: its ledger, policy, content store and keys."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consentry.ledger import LedgerStore
from consentry.scrub.detectors import SCRUBBING
from consentry.scrub.pseudonym import Pseudonymiser
from consentry.scrub.registry import Detector
from consentry.scrub.snapshot import SnapshotScrubber, snapshot_scrubber
from consentry.snapshot.arrow_memory import build_memory_pool, release_freed_memory
from consentry.snapshot.build import Builder, Progress, SilentProgress
from consentry.snapshot.executors import Executor, LocalExecutor
from consentry.snapshot.handle_parts import PartitionedMentions
from consentry.snapshot.records import RecordMaker, Scrubber
from consentry.snapshot.source import WorkspaceSource
from consentry.workspace import Workspace


def key_fingerprint(secret: bytes, recipient: str | None) -> str:
    """Names the key a snapshot was pseudonymised with, without revealing anything of it."""
    label = f"consentry key fingerprint\x00{recipient or ''}".encode()
    return hmac.new(secret, label, hashlib.sha256).hexdigest()[:16]


def detectors(*, names: bool) -> list[Detector]:
    """The scrubber's detectors: every built-in one, and the optional names detector."""
    chosen: list[Detector] = list(SCRUBBING)
    if names:
        from consentry.scrub.detectors.names import NameDetector

        detector = NameDetector()
        detector.nlp()  # fail now, with a clear message, if the model is missing
        chosen.append(detector)
    return chosen


def make_scrubber(
    source: WorkspaceSource,
    pseudonyms: Pseudonymiser,
    chosen: Sequence[Detector],
    handles: Path | None = None,
) -> Scrubber:
    """The scrubber, with mentions of platform accounts turned into their pseudonyms: looked
    up in a build's partitioned ``handles`` (``snapshot.handle_parts``) when given, else in an
    index of every account's handle."""
    if handles is not None:
        return SnapshotScrubber(PartitionedMentions(handles, pseudonyms), chosen)
    return snapshot_scrubber(source.accounts(), pseudonyms, detectors=chosen)


class _ScrubberOnFirstUse:
    """The snapshot scrubber, made when pass 2 begins (``RecordMaker.prepare``) or first
    scrubs: what it holds is then not resident through the census and the interactions, which
    never scrub. A build's steps tell it where their partitioned handles are (``use_handles``):
    without them it indexes every account's handle (~5 MB at 100,000 accounts)."""

    def __init__(self, make: Callable[[Path | None], Scrubber]) -> None:
        self._make = make
        self._handles: Path | None = None
        self._scrub: Scrubber | None = None

    def use_handles(self, folder: Path) -> None:
        self._handles = folder
        self._scrub = None

    def prepare(self) -> Scrubber:
        if self._scrub is None:
            # Under the build's allocator: what reading every account frees is given back,
            # not kept by Arrow's default pool for the rest of the process (``arrow_memory``).
            with build_memory_pool():
                self._scrub = self._make(self._handles)
            release_freed_memory()
        return self._scrub

    def __call__(self, texts: Any) -> tuple[Any, Any]:
        return self.prepare()(texts)


@dataclass(frozen=True, slots=True)
class WorkspaceRecipe:
    """Makes a workspace build's record maker again in a worker process (its scrubber's
    detectors cannot be pickled): the worker reads the workspace's secret, policy and accounts
    itself, so it needs the workspace folder (shared storage on a cluster). The secret travels
    with the recipe: the parent may have it only from its own environment (``CONSENTRY_SECRET``
    set for one command), which a worker on another node does not share."""

    root: Path
    recipient: str | None
    names: bool
    secret: bytes = field(repr=False)

    def __call__(self) -> RecordMaker:
        ws = Workspace.open(self.root)
        pseudonyms = Pseudonymiser(self.secret, self.recipient)
        source = WorkspaceSource(ws.content_dir)
        chosen = detectors(names=self.names)
        scrub = _ScrubberOnFirstUse(lambda at: make_scrubber(source, pseudonyms, chosen, at))
        return RecordMaker(pseudonyms, scrub, ws.policy().time_granularity)


def workspace_builder(
    ws: Workspace,
    ledger: LedgerStore,
    *,
    recipient: str | None,
    progress: Progress | None = None,
    names: bool = False,
    executor: Executor | None = None,
) -> Builder:
    secret = ws.secret()
    pseudonyms = Pseudonymiser(secret, recipient)
    source = WorkspaceSource(ws.content_dir)
    policy = ws.policy()
    chosen = detectors(names=names)
    scrub = _ScrubberOnFirstUse(lambda at: make_scrubber(source, pseudonyms, chosen, at))
    maker = RecordMaker(pseudonyms, scrub, policy.time_granularity)
    return Builder(
        ledger=ledger,
        policy=policy,
        source=source,
        maker=maker,
        key_fingerprint=key_fingerprint(secret, recipient),
        progress=progress or SilentProgress(),
        detectors=tuple(d.name for d in chosen),
        workspace=ws.root,
        executor=executor or LocalExecutor(1),
        recipe=WorkspaceRecipe(ws.root, recipient, names, secret),
    )
