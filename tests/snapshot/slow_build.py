"""A build that sleeps between batches, run in a subprocess that the crash test kills."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
from tests.snapshot.conftest import KeyedPseudonyms, content_table, interactions_table, no_scrub

from consentry.ledger import open_ledger
from consentry.policy import load_policy
from consentry.snapshot.build import Builder, BuildSpec
from consentry.snapshot.records import RecordMaker
from consentry.snapshot.source import MemorySource


class SlowSource(MemorySource):
    def __init__(self, delay: float) -> None:
        super().__init__(content_table(), interactions=interactions_table())
        self.delay = delay
        self.passes = 0

    def scan(self, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        self.passes += 1
        for batch in super().scan(columns, batch_size):
            if self.passes == 2:  # slow down pass 2, where shards are written
                time.sleep(self.delay)
            yield batch


def main(db: str, out: str, delay: float) -> None:
    builder = Builder(
        ledger=open_ledger(db),
        policy=load_policy(),
        source=SlowSource(delay),
        maker=RecordMaker(KeyedPseudonyms(b"k" * 32), no_scrub, "day"),
        key_fingerprint=hashlib.sha256(b"k" * 32).hexdigest()[:16],
    )
    builder.build(BuildSpec(purpose="train", out=Path(out), batch_size=2, shard_rows=4))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
