"""A build whose records step sleeps, run in a subprocess that the crash tests kill."""

from __future__ import annotations

import hashlib
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from tests.snapshot.conftest import KeyedPseudonyms, content_table, interactions_table, no_scrub

from consentry.ledger import open_ledger
from consentry.policy import load_policy
from consentry.snapshot.build import Builder, BuildSpec
from consentry.snapshot.executors import LocalExecutor
from consentry.snapshot.records import RecordMaker
from consentry.snapshot.source import MemorySource


def slow_scrub(delay: float, texts: Any) -> tuple[Any, Any]:
    """``no_scrub``, slowed: the records step (where shards are written) takes a while, in
    whichever process runs it."""
    time.sleep(delay)
    return no_scrub(texts)


def main(db: str, out: str, delay: float, workers: int = 1) -> None:
    builder = Builder(
        ledger=open_ledger(db),
        policy=load_policy(),
        source=MemorySource(content_table(), interactions=interactions_table()),
        maker=RecordMaker(KeyedPseudonyms(b"k" * 32), partial(slow_scrub, delay), "day"),
        key_fingerprint=hashlib.sha256(b"k" * 32).hexdigest()[:16],
        executor=LocalExecutor(workers),
    )
    builder.build(
        BuildSpec(purpose="train", out=Path(out), batch_size=2, shard_rows=4, census_rows=4)
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), *(int(a) for a in sys.argv[4:5]))
