"""A ledger writer in its own process, for the concurrency and crash tests.

    python ledger_writer.py URL --name W [--count N | --forever] [--batch B]

Prints ``ready`` and waits for a line on stdin (so that every writer starts at once, and opens
the ledger at once: a fresh database is migrated by whoever gets there first), then appends
decisions for accounts ``W-<i>`` and prints ``ack SEQ:HASH`` after each append returns, i.e.
once it is acknowledged. With ``--batch`` > 1 it alternates single entries and batches.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from datetime import UTC, datetime, timedelta

from consentry.ledger import open_ledger
from consentry.model import ConsentDecision, Decision, Source

T0 = datetime(2024, 7, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--name", required=True)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--forever", action="store_true")
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()

    print("ready", flush=True)
    sys.stdin.readline()
    ledger = open_ledger(args.url, create=True)
    rounds = itertools.count() if args.forever else range(args.count)
    i = 0
    for r in rounds:
        size = args.batch if args.batch > 1 and r % 2 else 1
        items = []
        for _ in range(size):
            decision = Decision.GRANT if i % 3 else Decision.DENY
            when = T0 + timedelta(seconds=i)
            items.append(ConsentDecision(f"{args.name}-{i}", "train", decision, when, Source.API))
            i += 1
        head = ledger.append(items)
        print(f"ack {head}", flush=True)
    ledger.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
