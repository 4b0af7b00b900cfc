"""The scrubber a snapshot build uses: every built-in detector, mentions → author pseudonyms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from consentry.scrub.pseudonym import Pseudonymiser
from consentry.scrub.registry import Detector
from consentry.scrub.resolver import MentionResolver, Mentions
from consentry.scrub.scrubber import ArrayLike, scrub_array


@dataclass(frozen=True, slots=True)
class SnapshotScrubber:
    """Callable on a text column: (scrubbed texts, ``pii`` lists). Picklable, for executors."""

    mentions: Mentions
    detectors: Sequence[Detector] | None = None

    def __call__(self, texts: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        result = scrub_array(texts, mentions=self.mentions, detectors=self.detectors)
        return result.text, result.pii


def snapshot_scrubber(
    accounts: pa.Table,
    pseudonyms: Pseudonymiser,
    *,
    detectors: Sequence[Detector] | None = None,
    handle_column: str = "handle",
    id_column: str = "id",
) -> SnapshotScrubber:
    """``accounts`` holds every platform account's id and handle (``id``, ``handle``)."""
    resolver = MentionResolver.from_table(
        accounts, pseudonyms, handle_column=handle_column, id_column=id_column
    )
    return SnapshotScrubber(resolver, detectors)
