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
from consentry.snapshot.executors import LocalExecutor
from consentry.snapshot.records import RecordMaker
from consentry.snapshot.source import MemorySource


class SlowSource(MemorySource):
    def __init__(self, delay: float) -> None:
        super().__init__(content_table(), interactions=interactions_table())
        self.delay = delay

    def scan_bucket(
        self, bucket: int, columns: Sequence[str], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        # Slow down the records step (the census reads ``visibility``, records do not), where
        # shards are written: in whichever process runs it.
        records = "visibility" not in columns and "text" in columns
        for batch in super().scan_bucket(bucket, columns, batch_size):
            if records:
                time.sleep(self.delay)
            yield batch


def main(db: str, out: str, delay: float, workers: int = 1) -> None:
    builder = Builder(
        ledger=open_ledger(db),
        policy=load_policy(),
        source=SlowSource(delay),
        maker=RecordMaker(KeyedPseudonyms(b"k" * 32), no_scrub, "day"),
        key_fingerprint=hashlib.sha256(b"k" * 32).hexdigest()[:16],
        executor=LocalExecutor(workers),
    )
    builder.build(
        BuildSpec(purpose="train", out=Path(out), batch_size=2, shard_rows=4, census_rows=4)
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), *(int(a) for a in sys.argv[4:5]))
