"""Sync benchmarks (issue 18): a licensee's download over loopback, and applying deletions.

    python -m benchmarks.bench_sync                                 # full sizes (goals below)
    python -m benchmarks.bench_sync --records 1000000 --copy 1000000 --runs 3   # develop

- download: a snapshot of ``--records`` (10,000,000) records in shards of 1,000,000, served by a
  real ``consentry serve`` on loopback, synced into an empty folder (download, SHA-256 of every
  shard, Merkle root, atomic publication). Baseline, same run: the same bytes streamed by httpx
  from the same server into nothing. Goal: at least 200 MB/s.
- apply: ``--events`` (100,000) deletion events applied to a local copy of ``--copy``
  (10,000,000) records (shards rewritten, manifest, card, attestation root). Baseline, same run:
  a bare pyarrow read and write of every shard. Goal: under 60 s, memory flat (peak RSS at the
  full size at most 1.1x that at a tenth of it).

The snapshots are synthetic (records in the snapshot's schema, a true manifest); the delivery
is recorded directly in the workspace's database (building 10M records is bench_snapshot's).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import Figure, parser, report, timed
from consentry.api.keys import ApiKeys, Role
from consentry.client import sync
from consentry.client.copy import Removal, apply_deletions, attestation
from consentry.compliance.recipients import Recipients
from consentry.ledger.entries import to_us
from consentry.snapshot.manifest import MANIFEST_NAME, Manifest
from consentry.snapshot.roots import merkle_root
from consentry.snapshot.writer import file_sha256
from consentry.workspace import Workspace

SHARD: int = 1_000_000


def record_ids(start: int, n: int) -> pa.Array:
    return pa.array([f"c_{i:024d}" for i in range(start, start + n)], pa.string())


def random_text(rows: int, seed: int, width: int = 60) -> pa.Array:
    """Random letters: zstd must not squeeze the shards to nothing (real posts do not)."""
    letters = np.random.default_rng(seed).integers(97, 123, size=rows * width, dtype=np.uint8)
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), rows, [None, pa.py_buffer(letters.tobytes())]
    )
    return fixed.cast(pa.binary()).cast(pa.string())


def write_snapshot(folder: Path, records: int, snapshot_id: str = "snap_bench") -> Manifest:
    (folder / "data").mkdir(parents=True)
    shards = []
    for n, start in enumerate(range(0, records, SHARD)):
        rows = min(SHARD, records - start)
        ids = record_ids(start, rows)
        table = pa.table(
            {
                "record_id": ids,
                "author": pa.array([f"a_{i % 50_000:08d}" for i in range(start, start + rows)]),
                "kind": pa.array(["post"] * rows),
                "lang": pa.array(["en"] * rows),
                "text": random_text(rows, start),
                "consent_entry": pa.array(np.arange(start, start + rows, dtype=np.int64)),
            }
        )
        path = f"data/part-{n:05d}.parquet"
        pq.write_table(table, folder / path, compression="zstd")
        shards.append(
            {"path": path, "rows": rows, "bytes": (folder / path).stat().st_size,
             "sha256": file_sha256(folder / path)}
        )  # fmt: skip
    m = Manifest(
        snapshot_id=snapshot_id,
        created=datetime.now(UTC).isoformat(),
        purpose="train",
        recipient="acme",
        ledger={"seq": 1, "head": "00" * 32},
        policy={"source": "bench", "version": "1", "sha256": "00" * 32},
        counts={"input": records, "included": records, "excluded": {}},
        shards=shards,
        interactions=[],
        merkle={},
        record_columns=["record_id", "author", "kind", "lang", "text", "consent_entry"],
    )
    root, leaves = merkle_root(folder, m.shard_infos())
    m.merkle = {"root": root, "leaves": leaves}
    (folder / MANIFEST_NAME).write_text(m.to_json())
    (folder / "README.md").write_text("---\nlanguage:\n- en\n---\n# bench\n")
    (folder / "croissant.json").write_text("{}\n")
    return m


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(ws: Workspace, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "CONSENTRY_WORKSPACE": str(ws.root)}
    env.pop("CONSENTRY_DB", None)
    # The rate of the plan out of the way (60 a minute by default): runs one after another
    # would otherwise wait on Retry-After, which the figure is not about.
    env["CONSENTRY_LICENSEE_RATE"] = "1000000"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "consentry.cli.main", "serve", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"consentry serve did not start: {log.read_text()}")


def deliver(ws: Workspace, folder: Path, m: Manifest) -> str:
    """Record ``folder`` as delivered to acme; acme's licensee key."""
    created = to_us(datetime.now(UTC))
    with ws.ledger() as ledger:
        Recipients(ledger).add("acme")
        ledger.execute(
            "INSERT INTO deliveries (delivery_id, snapshot_id, purpose, recipient, path,"
            " created_us, ledger_seq, ledger_head, records, accounts, map_path, map_sha256,"
            " published_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (1, m.snapshot_id, "train", "acme", str(folder), created, 1, "00" * 32,
             m.counts["included"], 0, str(folder / "none.parquet"), "", created),
        )  # fmt: skip
        return ApiKeys(ledger).create(Role.LICENSEE, recipient="acme").secret


def bench_download(args: Any, work: Path) -> list[Figure]:
    ws = Workspace.init(work / "ws")
    served = work / "served" / "snap_bench"
    m = write_snapshot(served, args.records)
    size = sum(int(s["bytes"]) for s in m.shards)
    key = deliver(ws, served, m)
    proc, url = serve(ws, work / "serve.log")
    try:
        base_s, sync_s, sync_cpu = [], [], []
        for run in range(args.runs):

            def stream() -> None:
                with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
                    for s in m.shards:
                        with c.stream("GET", f"/v1/snapshots/snap_bench/files/{s['path']}") as r:
                            for _ in r.iter_bytes(1 << 20):
                                pass

            base_s.append(timed(stream)[0])
            out = work / f"copy{run}"
            cpu0 = time.process_time()
            sync_s.append(timed(lambda out=out: sync(url, key, out))[0])  # type: ignore[misc]
            sync_cpu.append(time.process_time() - cpu0)
            shutil.rmtree(out)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    mb = size / 1e6
    base = Figure(f"baseline: stream {mb:,.0f} MB, no checks", base_s, items=size)
    fig = Figure(
        f"sync {args.records:,} records ({mb:,.0f} MB)", sync_s, items=size,
        goal=">= 200 MB/s", notes={"ratio_to_baseline": statistics_ratio(sync_s, base_s),
                                   "client_cpu_s": sync_cpu},
    )  # fmt: skip
    fig.met = size / fig.median_s >= 200e6
    ratio = fig.notes["ratio_to_baseline"]
    print(
        f"  download: {size / fig.median_s / 1e6:,.0f} MB/s synced, "
        f"{size / base.median_s / 1e6:,.0f} MB/s bare; time ratio x{ratio:.2f}; "
        f"client CPU median {statistics_median(sync_cpu):.1f} s"
    )
    return [base, fig]


def statistics_median(a: list[float]) -> float:
    import statistics

    return statistics.median(a)


def statistics_ratio(a: list[float], b: list[float]) -> float:
    import statistics

    return statistics.median(a) / statistics.median(b)


def _apply_once(folder: Path, events: int, records: int) -> float:
    rng = np.random.default_rng(7)
    chosen = rng.choice(records, size=min(events, records), replace=False)
    removals = [
        Removal("data", f"c_{i:024d}", None, "consent_denied", n) for n, i in enumerate(chosen)
    ]
    apply_deletions(folder, removals)
    attestation(folder, "snap_bench")
    return 0.0


def peak_child(folder: Path, events: int, records: int) -> tuple[float, float, float]:
    """Seconds, peak RSS (MB) and CPU seconds of one apply, in a process of its own (a clean
    peak; CPU time is what a loaded machine distorts least)."""
    code = (
        "import sys, time; from pathlib import Path; from benchmarks.bench_sync import _apply_once;"
        "from benchmarks.common import own_peak_rss_kb;"
        "t = time.perf_counter(); c = time.process_time();"
        "_apply_once(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]));"
        "print(time.perf_counter() - t, own_peak_rss_kb() / 1024, time.process_time() - c)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder), str(events), str(records)],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return float(out[0]), float(out[1]), float(out[2])


def bench_apply(args: Any, work: Path) -> list[Figure]:
    figures: list[Figure] = []
    peaks: dict[int, float] = {}
    for records in sorted({max(args.copy // 10, 1), args.copy}):
        pristine = work / f"pristine{records}"
        write_snapshot(pristine, records)
        base_s, apply_s, rss, cpu = [], [], [], []
        for _ in range(args.runs):

            def bare(pristine: Path = pristine) -> None:
                for p in sorted((pristine / "data").iterdir()):
                    pq.write_table(pq.read_table(p), work / "bare.parquet", compression="zstd")

            base_s.append(timed(bare)[0])
            folder = work / "copy"
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(pristine, folder)
            seconds, peak, cpu_s = peak_child(folder, args.events, records)
            apply_s.append(seconds)
            rss.append(peak)
            cpu.append(cpu_s)
        peaks[records] = sorted(rss)[len(rss) // 2]
        figures.append(Figure(f"baseline: read+write {records:,} records", base_s, items=records))
        fig = Figure(
            f"apply {args.events:,} events to {records:,} records", apply_s, items=args.events,
            goal="< 60 s", notes={"peak_rss_mb": peaks[records], "cpu_s": cpu,
                                  "ratio_to_baseline": statistics_ratio(apply_s, base_s)},
        )  # fmt: skip
        fig.met = fig.median_s < 60
        ratio = fig.notes["ratio_to_baseline"]
        print(
            f"  apply at {records:,}: time ratio to bare read+write x{ratio:.2f}, "
            f"peak RSS {peaks[records]:.0f} MB, CPU median {statistics_median(cpu):.1f} s "
            f"(runs {', '.join(f'{c:.1f}' for c in cpu)})"
        )
        figures.append(fig)
        shutil.rmtree(pristine)
    if len(peaks) > 1:
        small, large = min(peaks), max(peaks)
        growth = peaks[large] / peaks[small]
        figures.append(Figure(
            f"peak RSS {large:,} vs {small:,} records", [0.0], goal="flat (x1.10 at most)",
            met=growth <= 1.10, notes={"growth": growth},
        ))  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.split("\n\n")[0] if __doc__ else "sync benchmarks")
    p.add_argument("--records", type=int, default=10_000_000, help="records of the synced snapshot")
    p.add_argument("--copy", type=int, default=10_000_000, help="records of the local copy")
    p.add_argument("--events", type=int, default=100_000, help="deletion events to apply")
    p.add_argument("--only", choices=["download", "apply"], default=None)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tmp)
        figures = []
        if args.only in (None, "download"):
            figures += bench_download(args, work)
        if args.only in (None, "apply"):
            figures += bench_apply(args, work)
    report("sync benchmarks", figures, args.json)


if __name__ == "__main__":
    main()
