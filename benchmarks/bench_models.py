"""Model exposure benchmark (issue 18): ``--models`` (100) models of ``--snapshots`` (10)
snapshots each, every snapshot with ``--events`` (100) compliance events; the exposure of every
model (``exposures_of``: records and groups, their events read together) and the overdue
models (``overdue_models``, one grouped read). Goal: all 100 exposures under 1 s.

    python -m benchmarks.bench_models                 # full sizes
    python -m benchmarks.bench_models --scale 0.1     # a quick look

Deliveries and events are inserted in the tables' own layout (building 1,000 snapshots is what
bench_snapshot measures); the models are registered through ``Models.register``. The baseline
is the bare read of the same event rows (``SELECT … FROM compliance_events``) as Arrow: the
floor any exposure computed from the feed stands on.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks.bench_compliance import add_delivery
from benchmarks.common import Figure, parser, report, timed
from consentry.compliance.recipients import Recipients
from consentry.compliance.scanner import EVENT_SCHEMA
from consentry.ledger import LedgerStore, open_ledger
from consentry.ledger.entries import to_us
from consentry.models import Models, overdue_models
from consentry.models.exposure import exposures_of

RECIPIENTS = ("acme", "bolt", "cove", None)
REASONS = ("consent_denied", "erasure", "content_deleted")


def populate(ledger: LedgerStore, args: Any, workdir: Path) -> list[str]:
    """Deliveries, their events and the models on them; the model ids."""
    for r in RECIPIENTS:
        if r:
            Recipients(ledger).add(r)
    one = pa.table({"account_id": ["0"], "records": pa.array([1], pa.int64())})
    at = to_us(datetime.now(UTC) - timedelta(days=200))
    event_id = 0
    model_ids = []
    for m in range(args.models):
        holder = RECIPIENTS[m % len(RECIPIENTS)]
        snapshots = []
        for s in range(args.snapshots):
            delivery = m * args.snapshots + s + 1
            add_delivery(ledger, delivery, holder, one, workdir / "none.parquet", "", 10_000, 1)
            n = args.events
            accounts = pa.array([f"11{(delivery * 7 + i) % 50_000:017d}" for i in range(n)])
            events = pa.table(
                {
                    "event_id": pa.array(np.arange(event_id + 1, event_id + n + 1)),
                    "recipient": pa.array([holder or "(internal)"] * n),
                    "delivery_id": pa.array(np.full(n, delivery)),
                    "account_id": accounts,
                    "tbl": pa.array(["data"] * n),
                    # Snapshots 2k and 2k+1 of a model hold the same records: counted once.
                    "record_id": pa.array([f"r{m}-{s // 2}-{i:08d}" for i in range(n)]),
                    "account": pa.array([f"p{a}" for a in accounts.to_pylist()]),
                    "reason": pa.array([REASONS[i % len(REASONS)] for i in range(n)]),
                    "cause_seq": pa.array(np.ones(n, dtype=np.int64)),
                    "at_us": pa.array(np.full(n, at + delivery, dtype=np.int64)),
                },
                schema=EVENT_SCHEMA,
            )
            with ledger.transaction():
                ledger.insert_arrow("compliance_events", events)
            event_id += n
            snapshots.append(f"snap_bench{delivery:06d}")
        model = Models(ledger).register(holder, f"model-{m}", "1", snapshots, datetime.now(UTC))
        model_ids.append(model.model_id)
    return model_ids


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__ or "")
    p.add_argument("--scale", type=float, default=1.0, help="models x this")
    p.add_argument("--snapshots", type=int, default=10)
    p.add_argument("--events", type=int, default=100, help="compliance events per snapshot")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = p.parse_args(argv)
    args.models = max(1, int(100 * args.scale))
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="consentry-bench-") as tmp:
        ledger = open_ledger(f"sqlite:///{Path(tmp) / 'models.db'}", create=True)
        model_ids = populate(ledger, args, Path(tmp))
        models = Models(ledger)
        holders = {m.model_id: m for m in models.all()}
        total = args.models * args.snapshots * args.events
        distinct = args.models * len({s // 2 for s in range(args.snapshots)}) * args.events
        later = datetime.now(UTC) + timedelta(days=100)

        def every_exposure() -> int:
            found = exposures_of(ledger, [holders[i] for i in model_ids])
            return sum(e.records for e in found)

        def bare_read() -> int:
            rows = ledger.query_arrow(
                "SELECT event_id, tbl, record_id, account, account_id, reason, at_us"
                " FROM compliance_events"
            )
            return int(rows.num_rows)

        exposure_s, baseline_s, overdue_s = [], [], []
        for _ in range(args.runs):
            s, records = timed(every_exposure)
            exposure_s.append(s)
            s, read = timed(bare_read)
            baseline_s.append(s)
            s, late = timed(lambda: overdue_models(ledger, 90, later))
            overdue_s.append(s)
        assert read == total and records == distinct and len(late) == args.models
        ledger.close()
    exposure = Figure(
        f"exposure, {args.models} models x {args.snapshots} snapshots",
        exposure_s,
        items=total,
        goal="< 1 s",
        met=sorted(exposure_s)[len(exposure_s) // 2] < 1.0,
        notes={"events": total},
    )
    baseline = Figure(f"baseline: bare read of {total:,} events", baseline_s, items=total)
    overdue = Figure(f"overdue models, {args.models} models", overdue_s, items=args.models)
    exposure.notes["ratio_to_baseline"] = round(exposure.median_s / baseline.median_s, 2)
    report("model benchmarks", [exposure, baseline, overdue], args.json)
    print(f"exposure / bare read: {exposure.notes['ratio_to_baseline']:.2f}x")


if __name__ == "__main__":
    main()
