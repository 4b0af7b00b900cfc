"""Compliance benchmarks (issue 5): where-is latency with many large deliveries, and emitting
the events of many withdrawals against large delivered snapshots.

    python -m benchmarks.bench_compliance                       # full sizes (goals below)
    python -m benchmarks.bench_compliance --scale 0.01 --runs 3 # a quick look

- whereis: ``--snapshots`` (100) deliveries of ``--accounts`` (1,000,000) accounts each, recorded
  through the same insert path as a real delivery; ``where_is`` for random accounts. Goal: under
  100 ms.
- events: a ledger of ``--accounts`` accounts, each granting train and share; ``--deliveries``
  (2) delivery maps of ``--records`` (10,000,000) records each, for two recipients; then
  ``--withdrawals`` (100,000) accounts deny train and one scan emits the events. Goal: under a
  minute. (Delivery maps are written directly in the map format; building 10M-record snapshots
  is what bench_snapshot measures.)
"""

from __future__ import annotations

import hashlib
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import Figure, parser, report, timed
from consentry.compliance.deliveries import MAP_SCHEMA
from consentry.compliance.recipients import Recipients
from consentry.compliance.scanner import Scanner
from consentry.compliance.whereis import where_is
from consentry.content.store import ContentStore
from consentry.ledger import LedgerStore, open_ledger
from consentry.ledger.entries import to_us
from consentry.model import AccountChange, AccountStatus, ConsentDecision, Decision
from consentry.policy import load_policy

SECRET = bytes(range(32))
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def account_ids(n: int) -> pa.Array:
    return pa.array([f"11{i:017d}" for i in range(n)], pa.string())


def add_delivery(
    ledger: LedgerStore,
    delivery_id: int,
    recipient: str | None,
    per_account: pa.Table,
    map_path: Path,
    map_sha256: str,
    records: int,
    ledger_seq: int,
) -> None:
    """A deliveries row and its per-account counts, as ``Deliveries.record`` writes them."""
    created = to_us(datetime.now(UTC))
    with ledger.transaction():
        ledger.insert_arrow(
            "delivered_accounts",
            per_account.append_column(
                "delivery_id", pa.array(np.full(per_account.num_rows, delivery_id))
            ).select(["account_id", "delivery_id", "records"]),
        )
        ledger.execute(
            "INSERT INTO deliveries (delivery_id, snapshot_id, purpose, recipient, path,"
            " created_us, ledger_seq, ledger_head, records, accounts, map_path, map_sha256,"
            " published_us)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                delivery_id,
                f"snap_bench{delivery_id:06d}",
                "train",
                recipient,
                str(map_path.parent),
                created,
                ledger_seq,
                "00" * 32,
                records,
                per_account.num_rows,
                str(map_path),
                map_sha256,
                created,
            ),
        )


def bench_whereis(args: Any, workdir: Path) -> list[Figure]:
    ledger = open_ledger(f"sqlite:///{workdir / 'whereis.db'}", create=True)
    ids = account_ids(args.accounts_whereis)
    per_account = pa.table(
        {"account_id": ids, "records": pa.array(np.full(len(ids), 10, dtype=np.int64))}
    )
    recipients = Recipients(ledger)
    for r in ("acme", "bolt", "cove", "dune"):
        recipients.add(r)
    started = time.perf_counter()
    loads = []
    for d in range(1, args.snapshots + 1):
        s, _ = timed(
            lambda d=d: add_delivery(  # type: ignore[misc]
                ledger, d, ("acme", "bolt", "cove", "dune", None)[d % 5], per_account,
                workdir / "none.parquet", "", 10 * len(ids), 1,
            )
        )  # fmt: skip
        loads.append(s)
        if d % 10 == 0:
            print(
                f"    {d} deliveries recorded ({time.perf_counter() - started:.0f} s)", flush=True
            )
    rng = random.Random(7)
    sample = [ids[rng.randrange(len(ids))].as_py() for _ in range(args.queries)]
    where_is(ledger, sample[0])  # warm the page cache, as a running service would be
    seconds = []
    for account in sample:
        s, found = timed(lambda a=account: where_is(ledger, a))  # type: ignore[misc]
        assert len(found.snapshots) == args.snapshots
        seconds.append(s)
    seconds.sort()
    p99 = seconds[int(len(seconds) * 0.99) - 1]
    ledger.close()
    return [
        Figure(
            f"whereis, {args.snapshots} snapshots x {len(ids):,} accounts",
            [statistics.median(seconds)],
            goal="< 0.1 s",
            met=p99 < 0.1,
            notes={
                "p99_s": p99,
                "max_s": seconds[-1],
                "queries": len(seconds),
                "delivery_record_median_s": statistics.median(loads),
                "db_bytes": (workdir / "whereis.db").stat().st_size,
            },
        )
    ]


def ledger_entries(ids: list[str]) -> Iterator[AccountChange | ConsentDecision]:
    for a in ids:
        yield AccountChange(
            a,
            T0,
            {"country": "FR", "birth_date": None, "protected": False,
             "status": AccountStatus.ACTIVE},
            created=True,
        )  # fmt: skip
    for a in ids:
        for purpose in ("train", "share"):
            yield ConsentDecision(a, purpose, Decision.GRANT, T0 + timedelta(days=1))


def write_map(path: Path, ids: pa.Array, per_account: int, seed: int) -> tuple[str, pa.Table]:
    """A delivery map: ``per_account`` posts of every account (some assistant, some likes)."""
    n = len(ids)
    with pq.ParquetWriter(path, MAP_SCHEMA, compression="zstd") as writer:
        for start in range(0, n, 100_000):
            chunk = ids.slice(start, min(100_000, n - start))
            m = len(chunk)
            account = pa.array(np.repeat(np.asarray(chunk.to_pylist(), dtype=object), per_account))
            k = np.tile(np.arange(per_account), m)
            base = np.repeat(np.arange(start, start + m), per_account)
            content = pa.array([f"{seed}c{b}_{j}" for b, j in zip(base, k, strict=True)])
            kind = np.where(k == per_account - 1, "assistant_prompt", "post")
            tbl = np.where(k == per_account - 2, "interactions", "data")
            writer.write_table(
                pa.table(
                    {
                        "tbl": pa.array(tbl),
                        "account_id": account,
                        "content_id": content,
                        "kind": pa.array(kind),
                        "origin_id": pa.nulls(len(account), pa.string()),
                        "consent_entry": pa.array(np.full(len(account), 1, dtype=np.int64)),
                    },
                    schema=MAP_SCHEMA,
                )
            )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    per = pa.table(
        {"account_id": ids, "records": pa.array(np.full(n, per_account, dtype=np.int64))}
    )
    return digest, per


def bench_events(args: Any, workdir: Path) -> list[Figure]:
    walls: dict[int, list[float]] = {w: [] for w in args.workers}
    cpu: dict[int, list[float]] = {w: [] for w in args.workers}
    accounts = args.accounts
    per_account = max(1, args.records // accounts)
    ids = account_ids(accounts)
    id_list = ids.to_pylist()
    for run in range(args.runs):
        folder = workdir / f"events{run}"
        folder.mkdir()
        ledger = open_ledger(f"sqlite:///{folder / 'ledger.db'}", create=True)
        started = time.perf_counter()
        head = ledger.append(ledger_entries(id_list))
        s_ledger = time.perf_counter() - started
        ledger.checkpoint()
        for r in ("acme", "bolt"):
            Recipients(ledger).add(r)
        s_maps = 0.0
        for d in range(1, args.deliveries + 1):
            path = folder / f"map{d}.parquet"
            s, (digest, per) = timed(lambda p=path, d=d: write_map(p, ids, per_account, d))  # type: ignore[misc]
            s_maps += s
            add_delivery(
                ledger, d, ("acme", "bolt")[d % 2], per, path, digest, per_account * accounts,
                head.seq,
            )  # fmt: skip
        rng = random.Random(run)
        chosen = rng.sample(id_list, args.withdrawals)
        at = datetime.now(UTC) - timedelta(minutes=1)
        ledger.append(ConsentDecision(a, "train", Decision.DENY, at) for a in chosen)
        ledger.checkpoint()
        ledger.close()
        db = folder / "ledger.db"
        shutil.copyfile(db, folder / "before-scan.db")
        expected = args.withdrawals * per_account * args.deliveries
        for w in args.workers:
            # Each worker count scans the same ledger: as it was before any scan.
            for suffix in ("-wal", "-shm"):
                (folder / f"ledger.db{suffix}").unlink(missing_ok=True)
            shutil.copyfile(folder / "before-scan.db", db)
            ledger = open_ledger(f"sqlite:///{db}")
            store = ContentStore(folder / "content")
            scanner = Scanner(ledger, store, load_policy(), SECRET, workers=w)
            cpu0 = _cpu()
            s, result = timed(scanner.run)
            cpu[w].append(_cpu() - cpu0)
            ledger.close()
            assert result.total == expected, (result.total, expected)
            print(
                f"    run {run + 1}: setup ledger {s_ledger:.0f} s, maps {s_maps:.0f} s;"
                f" scan --workers {w} {s:.1f} s ({cpu[w][-1]:.1f} CPU-s), {result.total:,} events",
                flush=True,
            )
            walls[w].append(s)
    first = args.workers[0]
    out = []
    for w in args.workers:
        notes: dict[str, Any] = {
            "accounts": accounts,
            "records_per_account": per_account,
            "workers": w,
            "cpu_s": cpu[w],
        }
        if w != first:
            notes[f"wall_ratio_to_workers_{first}"] = statistics.median(
                walls[w]
            ) / statistics.median(walls[first])
            print(
                f"    scan --workers {w}: x{notes[f'wall_ratio_to_workers_{first}']:.2f} the wall"
                f" time of --workers {first}",
                flush=True,
            )
        out.append(
            Figure(
                f"events, {args.withdrawals:,} withdrawals x {args.deliveries} snapshots"
                f" of {per_account * accounts:,} records, --workers {w}",
                walls[w],
                items=args.withdrawals * per_account * args.deliveries,
                goal="< 60 s",
                met=statistics.median(walls[w]) < 60,
                notes=notes,
            )
        )
    return out


def _cpu() -> float:
    """CPU-seconds of this process and of its reaped children (a scan's workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.split("\n\n")[0] if __doc__ else "compliance benchmarks")
    p.add_argument("--only", choices=("whereis", "events"), action="append")
    p.add_argument("--scale", type=float, default=1.0, help="sizes x this")
    p.add_argument("--snapshots", type=int, default=100)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--deliveries", type=int, default=2)
    p.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="scan with each of these worker counts, from the same ledger (events: each "
        "compared with the first)",
    )
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = p.parse_args(argv)
    args.accounts_whereis = int(1_000_000 * args.scale)
    args.accounts = int(1_000_000 * args.scale)
    args.records = int(10_000_000 * args.scale)
    args.withdrawals = int(100_000 * args.scale)
    what = set(args.only or ("whereis", "events"))
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="consentry-bench-") as tmp:
        workdir = Path(tmp)
        if "whereis" in what:
            figures += bench_whereis(args, workdir)
            print("  " + figures[-1].line(), flush=True)
        if "events" in what:
            events = bench_events(args, workdir)
            figures += events
            for f in events:
                print("  " + f.line(), flush=True)
    report("compliance benchmarks", figures, args.json)


if __name__ == "__main__":
    main()
