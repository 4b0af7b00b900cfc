"""Wire a builder to a workspace: its ledger, policy, content store and keys."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from consentry.ledger import LedgerStore
from consentry.scrub.pseudonym import Pseudonymiser
from consentry.snapshot.build import Builder, Progress, _Silent
from consentry.snapshot.records import RecordMaker, Scrubber
from consentry.snapshot.source import WorkspaceSource
from consentry.workspace import Workspace


def key_fingerprint(secret: bytes, recipient: str | None) -> str:
    """Names the key a snapshot was pseudonymised with, without revealing anything of it."""
    label = f"consentry key fingerprint\x00{recipient or ''}".encode()
    return hmac.new(secret, label, hashlib.sha256).hexdigest()[:16]


def make_scrubber(source: WorkspaceSource, pseudonyms: Pseudonymiser) -> Scrubber:
    """The default scrubber, with mentions of platform accounts turned into their pseudonyms."""
    from consentry.scrub.snapshot import snapshot_scrubber

    return snapshot_scrubber(source.accounts(), pseudonyms)


def workspace_builder(
    ws: Workspace,
    ledger: LedgerStore,
    *,
    recipient: str | None,
    progress: Progress | None = None,
) -> Builder:
    secret = ws.secret()
    pseudonyms = Pseudonymiser(secret, recipient)
    source = WorkspaceSource(ws.content_dir)
    policy = ws.policy()
    maker = RecordMaker(pseudonyms, make_scrubber(source, pseudonyms), policy.time_granularity)
    progress_: Any = progress or _Silent()
    return Builder(
        ledger=ledger,
        policy=policy,
        source=source,
        maker=maker,
        key_fingerprint=key_fingerprint(secret, recipient),
        progress=progress_,
    )
