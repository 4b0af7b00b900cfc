"""Report and console benchmarks (issue 20): the whole report over a large workspace, and the
console's pages.

    python -m benchmarks.bench_report                          # full size (goals below)
    python -m benchmarks.bench_report --scale 0.01 --runs 3    # a quick look

- report: a ledger of ``--accounts`` (1,000,000) accounts, each with its state and decisions
  (train granted by most, refused by the others, share by some, withdrawals and GPC refusals
  weeks later), appended through ``ledger.bulk`` as an import does; ``--snapshots`` (100)
  snapshot folders of ``--records`` (5,000) records each, recorded as deliveries (half
  internal, half to two recipients), their files and Merkle roots re-checked by the report.
  Goal: ``gather`` (figures, every snapshot verified, no chain walk) plus its HTML with every
  chart under 30 s. Baseline, in the same run: reading the ledger's consent state alone
  (``consent_state``), the floor of any consent figure.
- console: the same workspace served by uvicorn in this process; once warm, ``--requests``
  (200) requests of each page, one after the other. Goal: p99 at most 200 ms. Baseline: the
  service's ``/healthz``.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import Figure, parser, report, timed
from consentry.api.keys import ApiKeys, Role
from consentry.compliance.recipients import Recipients
from consentry.ledger import LedgerStore
from consentry.ledger.bulk import (
    ACCOUNT_CHANGE_SCHEMA,
    DECISION_SCHEMA,
    account_payloads,
    decision_payloads,
)
from consentry.ledger.entries import ATTR_BIT, to_us
from consentry.report import Options, document, gather
from consentry.snapshot.manifest import MANIFEST_NAME, Manifest
from consentry.snapshot.roots import merkle_root
from consentry.snapshot.writer import ShardInfo, file_sha256
from consentry.workspace import Workspace

T0 = datetime(2026, 6, 1, tzinfo=UTC)
COUNTRIES = ["FR", "DE", "ES", "IT", "NL", "BE", "US", "GB", "BR", "JP"]
RECIPIENTS = ("acme-ai", "globex")
BATCH = 200_000


def _accounts(n: int, rng: np.random.Generator) -> pa.Table:
    ids = pa.array([f"11{i:017d}" for i in range(n)], pa.string())
    mask = ATTR_BIT["country"] | ATTR_BIT["birth_date"] | ATTR_BIT["protected"] | ATTR_BIT["status"]
    births = (np.datetime64("1960-01-01") + rng.integers(0, 40 * 365, n)).astype("datetime64[D]")
    return pa.table(
        {
            "account_id": ids,
            "at": pa.array([T0] * n, pa.timestamp("us", tz="UTC")),
            "created": pa.array(np.ones(n, dtype=bool)),
            "attr_mask": pa.array(np.full(n, mask, dtype=np.int8)),
            "country": pa.array(np.array(COUNTRIES)[rng.integers(0, len(COUNTRIES), n)]),
            "birth_date": pa.array(births),
            "protected": pa.array(rng.random(n) < 0.05),
            "status": pa.array(["active"] * n),
        },
        schema=ACCOUNT_CHANGE_SCHEMA,
    )


def _decisions(
    ids: pa.Array,
    purpose: str,
    grant: np.ndarray,
    days: np.ndarray,
    source: str,
    recipient: str | None,
) -> pa.Table:
    n = len(ids)
    at = pa.array(
        [T0 + timedelta(days=int(d), minutes=1) for d in days], pa.timestamp("us", tz="UTC")
    )
    return pa.table(
        {
            "account_id": ids,
            "purpose": pa.array([purpose] * n),
            "decision": pa.array(np.where(grant, "grant", "deny")),
            "at": at,
            "source": pa.array([source] * n),
            "scope": pa.nulls(n, pa.string()),
            "notice_version": pa.array(["2026-06"] * n),
            "recipient": pa.array([recipient] * n, pa.string()),
        },
        schema=DECISION_SCHEMA,
    )


def _batches(table: pa.Table) -> list[pa.Table]:
    return [table.slice(i, BATCH) for i in range(0, table.num_rows, BATCH)]


def fill_ledger(ledger: LedgerStore, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    accounts = _accounts(n, rng)
    ledger.append_tables(_batches(accounts), account_payloads)
    ids = accounts["account_id"].combine_chunks()
    days = rng.integers(0, 60, n)
    parts = [_decisions(ids, "train", rng.random(n) < 0.7, days, "web", None)]
    sharing = np.nonzero(rng.random(n) < 0.3)[0]
    parts.append(
        _decisions(ids.take(sharing), "share", np.ones(len(sharing), bool), days[sharing] + 1,
                   "app", RECIPIENTS[0])
    )  # fmt: skip
    later = np.nonzero(rng.random(n) < 0.1)[0]
    parts.append(
        _decisions(ids.take(later), "train", np.zeros(len(later), bool), days[later] + 20,
                   "web", None)
    )  # fmt: skip
    gpc = np.nonzero(rng.random(n) < 0.02)[0]
    parts.append(
        _decisions(ids.take(gpc), "fine_tune", np.zeros(len(gpc), bool), days[gpc] + 30,
                   "gpc", None)
    )  # fmt: skip
    for part in parts:
        ledger.append_tables(_batches(part), decision_payloads)
    ledger.checkpoint()


def make_snapshot(folder: Path, snapshot_id: str, records: int, recipient: str | None) -> None:
    (folder / "data").mkdir(parents=True)
    shard = folder / "data" / "part-00000.parquet"
    rids = [hashlib.sha256(f"{snapshot_id}:{i}".encode()).hexdigest()[:32] for i in range(records)]
    pq.write_table(
        pa.table({"record_id": rids, "consent_entry": pa.array(range(1, records + 1), pa.int64())}),
        shard,
    )
    info = ShardInfo("data/part-00000.parquet", records, shard.stat().st_size, file_sha256(shard))
    root, leaves = merkle_root(folder, [info])
    manifest = Manifest(
        snapshot_id=snapshot_id,
        created=datetime.now(UTC).isoformat(),
        purpose="train",
        recipient=recipient,
        ledger={"seq": 1, "head": "00" * 32},
        policy={"version": "bench"},
        counts={
            "input": records * 3,
            "included": records,
            "excluded": {
                "no_consent": records,
                "consent_denied": records // 2,
                "minor": records // 2,
            },
            "pii_replaced": {"email": records // 10, "url": records // 5},
        },
        shards=[_shard(info)],
        interactions=[],
        merkle={"root": root, "leaves": leaves},
        record_columns=["record_id", "consent_entry"],
    )
    (folder / MANIFEST_NAME).write_text(manifest.to_json(), "utf-8")


def _shard(info: ShardInfo) -> dict[str, Any]:
    return {"path": info.path, "rows": info.rows, "bytes": info.bytes, "sha256": info.sha256}


def record_snapshots(ws: Workspace, ledger: LedgerStore, count: int, records: int) -> None:
    for name in RECIPIENTS:
        Recipients(ledger).add(name)
    head = ledger.head()
    for i in range(count):
        recipient = None if i % 2 == 0 else RECIPIENTS[(i // 2) % 2]
        sid = f"snap_bench{i:06d}"
        folder = ws.root.parent / "snapshots" / sid
        make_snapshot(folder, sid, records, recipient)
        created = to_us(datetime.now(UTC))
        ledger.execute(
            "INSERT INTO deliveries (delivery_id, snapshot_id, purpose, recipient, path,"
            " created_us, ledger_seq, ledger_head, records, accounts, map_path, map_sha256,"
            " published_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (i + 1, sid, "train", recipient, str(folder), created, head.seq, head.hash,
             records, records // 3, str(folder / "map.parquet"), "00" * 32, created),
        )  # fmt: skip


def bench_report(args: Any, ws: Workspace) -> list[Figure]:
    base_s, report_s = [], []
    for _ in range(args.runs):
        with ws.ledger() as ledger:
            s, state = timed(lambda: ledger.consent_state())
            base_s.append(s)

            def whole() -> int:
                data = gather(ws, ledger, Options(verify_snapshots=True))
                return len(document.html(data, "en"))

            s, size = timed(whole)
            report_s.append(s)
    ratio = statistics.median(report_s) / statistics.median(base_s)
    print(f"  report / consent-state baseline: x{ratio:.1f} ({size:,} bytes of HTML)")
    return [
        Figure("baseline: consent_state of every account", base_s, items=state.num_rows),
        Figure(
            f"report: {args.accounts:,} accounts, {args.snapshots} snapshots (+HTML)",
            report_s,
            goal="< 30 s",
            met=statistics.median(report_s) < 30,
            notes={"ratio_to_baseline": ratio},
        ),
    ]


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def bench_console(args: Any, ws: Workspace) -> list[Figure]:
    from tests.api.conftest import Server  # the test suite's in-process uvicorn

    from consentry.api.settings import ServiceSettings

    with ws.ledger() as ledger:
        key = ApiKeys(ledger).create(Role.ADMIN).secret
    server = Server(ServiceSettings(workspace=ws, pool_size=2, admin_rate=10**6)).start()
    figures = []
    try:
        with httpx.Client(base_url=server.base_url, timeout=300) as client:
            client.post("/admin/signin", data={"key": key})
            start = time.perf_counter()
            assert client.get("/admin").status_code == 200  # gathers the figures once
            print(f"  console: first /admin (gathering) {time.perf_counter() - start:.1f} s")
            pages = ["/healthz", "/admin", "/admin/ropa", "/admin/report.json"]
            for path in pages:
                assert client.get(path).status_code == 200
                times = []
                for _ in range(args.requests):
                    s = time.perf_counter()
                    response = client.get(path)
                    times.append(time.perf_counter() - s)
                    assert response.status_code == 200, path
                p99 = _p99(times)
                baseline = path == "/healthz"
                figures.append(
                    Figure(
                        f"{'baseline: ' if baseline else ''}GET {path} p99 = {p99 * 1000:.1f} ms",
                        [p99],
                        goal=None if baseline else "p99 <= 200 ms",
                        met=None if baseline else p99 <= 0.2,
                        notes={"median_ms": statistics.median(times) * 1000},
                    )
                )
    finally:
        server.stop()
    return figures


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__ or "")
    p.add_argument("--accounts", type=int, default=1_000_000)
    p.add_argument("--snapshots", type=int, default=100)
    p.add_argument("--records", type=int, default=5_000)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--scale", type=float, default=1.0, help="multiply --accounts by this")
    p.add_argument("--seed", type=int, default=20)
    args = p.parse_args(argv)
    args.accounts = max(100, int(args.accounts * args.scale))
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        with ws.ledger() as ledger:
            s, _ = timed(lambda: fill_ledger(ledger, args.accounts, args.seed))
            print(f"  setup: {ledger.count():,} ledger entries in {s:.1f} s", flush=True)
            s, _ = timed(lambda: record_snapshots(ws, ledger, args.snapshots, args.records))
            print(f"  setup: {args.snapshots} snapshots in {s:.1f} s", flush=True)
        figures = bench_report(args, ws) + bench_console(args, ws)
    report("report and console (issue 20)", figures, args.json)


if __name__ == "__main__":
    main()
