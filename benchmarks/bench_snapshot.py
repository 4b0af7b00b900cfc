"""Benchmark of the main job: `consentry snapshot build` on N demo posts.

For each size: a demo platform is generated and imported once (untimed, cached in --workdir);
then, ``--runs`` times each and alternating, (a) the baseline: a bare pyarrow read of the same
stored content and a Parquet write (zstd) of it, and (b) the build, in a child process whose
peak RSS and CPU time are measured (its own peak, ``VmHWM``: the baseline leaves this process
holding hundreds of MB, which a child's ``ru_maxrss`` would count). Each build starts from the
ledger as it was after the import (restored, untimed), so that every run does what a first
build does, delivery map included.
Reported: medians, items per second of wall time and per CPU-second (posts/s per core), the
build/baseline ratio within the same run, peak memory, and how the median peak grows from the
smallest size to the largest (flat: ×1.10 at most, as for the import).

    .venv/bin/python -m benchmarks.bench_snapshot --posts 1000000 10000000 --runs 3
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import Figure, flat_memory, parser, report

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "consentry.cli.main"]
PRISTINE = "ledger.db.imported"


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)


def prepare(workdir: Path, posts: int, accounts: int | None = None) -> Path:
    """A workspace holding an imported demo platform of ``posts`` items (kept between runs),
    of ``accounts`` accounts (default: the generator's, one per 100 posts)."""
    ws = workdir / (f"ws-{posts}" if accounts is None else f"ws-{posts}-a{accounts}")
    done = ws / ".bench-ready"
    if done.exists() and (ws / PRISTINE).exists():
        return ws
    shutil.rmtree(ws, ignore_errors=True)
    platform = workdir / f"platform-{ws.name}"
    env = {**os.environ, "CONSENTRY_WORKSPACE": str(ws)}
    env.pop("CONSENTRY_DB", None)
    print(f"  preparing {posts:,} posts (generate + import, untimed)…", flush=True)
    sized = ["--posts", str(posts)] + ([] if accounts is None else ["--accounts", str(accounts)])
    _run([*CLI, "demo", "generate", "--out", str(platform), "--seed", "1", *sized], env)
    _run([*CLI, "init"], env)
    _run([*CLI, "import", "canonical", str(platform)], env)
    shutil.rmtree(platform)
    shutil.copyfile(ws / "ledger.db", ws / PRISTINE)
    done.touch()
    return ws


def restore(ws: Path) -> None:
    """The workspace's ledger as the import left it: no delivery recorded by an earlier run."""
    for suffix in ("-wal", "-shm"):
        (ws / f"ledger.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(ws / PRISTINE, ws / "ledger.db")
    shutil.rmtree(ws / "deliveries", ignore_errors=True)


def baseline(ws: Path, out: Path) -> float:
    """Bare pyarrow: read every stored content segment, write it back as one zstd Parquet file."""
    files = sorted((ws / "content" / "items").rglob("*.parquet"))
    start = time.perf_counter()
    with pq.ParquetWriter(out, pq.read_schema(files[0]), compression="zstd") as writer:
        for path in files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536):
                writer.write_table(pa.Table.from_batches([batch]))
    return time.perf_counter() - start


CHILD = """
import json, resource, sys, time
from consentry.cli.main import app
from benchmarks.common import own_peak_rss_kb
def cpu():
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime
start, cpu0 = time.perf_counter(), cpu()  # after imports: start-up is not the build
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    print(json.dumps({"wall": time.perf_counter() - start, "cpu": cpu() - cpu0,
                      "max_rss_kb": own_peak_rss_kb()}),
          file=sys.stderr)
"""


def build(ws: Path, out: Path, workers: int = 1) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    restore(ws)
    env = {**os.environ, "CONSENTRY_WORKSPACE": str(ws)}
    proc = subprocess.run(
        [
            *(sys.executable, "-c", CHILD, "snapshot", "build", "--purpose", "train"),
            *("--out", str(out), "--workers", str(workers)),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    stats: dict[str, Any] = json.loads(proc.stderr.strip().splitlines()[-1])
    stats["manifest"] = json.loads((out / "manifest.json").read_text())
    return stats


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--posts", type=int, nargs="+", default=[1_000_000])
    p.add_argument("--workdir", type=Path, default=Path("/tmp/consentry-bench-snapshot"))
    p.add_argument("--keep", action="store_true", help="keep the prepared workspaces")
    p.add_argument(
        "--accounts",
        type=int,
        default=None,
        help="accounts of every platform (default: one per 100 posts); a fixed number "
        "separates memory that grows with posts from memory that grows with accounts",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="build workers (default 1: the single-process build; bench_build_scale compares)",
    )
    args = p.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    peaks: dict[int, float] = {}
    for posts in args.posts:
        ws = prepare(args.workdir, posts, args.accounts)
        base_s: list[float] = []
        builds: list[dict[str, Any]] = []
        for _ in range(args.runs):
            base_s.append(baseline(ws, args.workdir / "baseline.parquet"))
            builds.append(build(ws, args.workdir / "snapshot", args.workers))
        wall = [b["wall"] for b in builds]
        cpu = [b["cpu"] for b in builds]
        rss_mb = [b["max_rss_kb"] / 1024 for b in builds]
        peaks[posts] = statistics.median(rss_mb)
        ratios = [w / b for w, b in zip(wall, base_s, strict=True)]
        counts = builds[0]["manifest"]["counts"]
        figures.append(Figure(f"baseline read+write, {posts:,} posts", base_s, items=posts))
        figures.append(
            Figure(
                f"snapshot build, {posts:,} posts",
                wall,
                items=posts,
                goal="≥ 250,000 posts/s per core, ≤ 6× baseline, < 2 GB",
                met=(
                    posts / statistics.median(cpu) >= 250_000
                    and statistics.median(ratios) <= 6
                    and max(rss_mb) < 2048
                ),
                notes={
                    "posts_per_cpu_second": posts / statistics.median(cpu),
                    "cpu_seconds": cpu,
                    "ratio_to_baseline": ratios,
                    "ratio_median": statistics.median(ratios),
                    "peak_rss_mb": rss_mb,
                    "included": counts["included"],
                    "pii_replaced": counts["pii_replaced"],
                },
            )
        )
        f = figures[-1]
        print(
            f"  {posts:,} posts: build {statistics.median(wall):.2f} s wall, "
            f"{f.notes['posts_per_cpu_second']:,.0f} posts per CPU-second, "
            f"ratio {f.notes['ratio_median']:.2f}× baseline, peak RSS median "
            f"{peaks[posts]:,.0f} MB (runs: {', '.join(f'{r:.0f}' for r in rss_mb)})",
            flush=True,
        )
        if not args.keep:
            shutil.rmtree(ws, ignore_errors=True)
    flat = flat_memory(peaks)
    if flat is not None:
        figures.append(flat)
    report("snapshot build", figures, args.json)


if __name__ == "__main__":
    main()
