"""Benchmark of the build's executors: `snapshot build` on N demo posts with `--workers 1`,
`--workers 2` and `--executor ray` (a local Ray of 2 CPUs), and peak memory per worker as the
number of accounts grows at a fixed number of posts.

Each build runs in a child process (the CLI); its whole process tree (the build, the
forkserver, the workers) is sampled every 50 ms for CPU time and resident memory: CPU-seconds
are the tree's sum (Ray's own processes are not counted, only its wall time is compared), peak
RSS per worker the largest of any worker process. The baseline, measured in the same run, is
the single-process build (`--workers 1`): ratios are to it.

    .venv/bin/python -m benchmarks.bench_build_scale --posts 1000000 --runs 3
    .venv/bin/python -m benchmarks.bench_build_scale --posts 200000 --accounts 2000 200000 --runs 1
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.bench_snapshot import ROOT, prepare, restore
from benchmarks.common import Figure, parser, report

CLI = [sys.executable, "-m", "consentry.cli.main"]


def _sample(root: psutil.Process, cpu: dict[int, float], rss: dict[int, int]) -> None:
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            times = proc.cpu_times()
            cpu[proc.pid] = times.user + times.system
            rss[proc.pid] = max(rss.get(proc.pid, 0), proc.memory_info().rss)
        except psutil.NoSuchProcess:
            continue


#: A build on a local Ray of 2 CPUs, started before the clock starts (a cluster is up before a
#: build is run on it); the build reuses the Ray this process initialised.
RAY_CHILD = """
import sys, time, ray
ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
from consentry.cli.main import app
start = time.perf_counter()
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    print(f"WALL {time.perf_counter() - start}", file=sys.stderr)
"""


def build(ws: Path, out: Path, *extra: str, ray: bool = False) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    restore(ws)
    env = {**os.environ, "CONSENTRY_WORKSPACE": str(ws)}
    command = [sys.executable, "-c", RAY_CHILD] if ray else CLI
    args = [*command, "snapshot", "build", "--purpose", "train", "--out", str(out), *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    root = psutil.Process(proc.pid)
    cpu: dict[int, float] = {}
    rss: dict[int, int] = {}
    while proc.poll() is None:
        _sample(root, cpu, rss)
        time.sleep(0.05)
    wall = time.perf_counter() - start
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode:
        raise SystemExit(f"build failed ({' '.join(extra)}): exit {proc.returncode}\n{err}")
    if ray:  # the build's own time, without Ray's start-up
        wall = float(next(line for line in err.splitlines() if line.startswith("WALL ")).split()[1])
    others = [v for pid, v in rss.items() if pid != proc.pid]
    return {
        "wall": wall,
        "cpu": sum(cpu.values()),
        "main_rss_mb": rss.get(proc.pid, 0) / 2**20,
        # The forkserver is small and idle: the largest other process is a worker.
        "worker_rss_mb": max(others, default=rss.get(proc.pid, 0)) / 2**20,
        "manifest": (out / "manifest.json").read_bytes(),
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--posts", type=int, default=200_000)
    p.add_argument(
        "--accounts",
        type=int,
        nargs="*",
        default=[],
        help="account counts for the memory-per-worker figure (fixed --posts, --workers 2)",
    )
    p.add_argument("--no-ray", action="store_true", help="skip the Ray figure")
    p.add_argument(
        "--memory-only",
        action="store_true",
        help="only the memory-per-worker figure (--accounts), not the executors' times",
    )
    p.add_argument("--workdir", type=Path, default=Path("/tmp/consentry-bench-scale"))
    args = p.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    out = args.workdir / "snapshot"
    posts = args.posts
    figures: list[Figure] = []
    if not args.memory_only:
        ws = prepare(args.workdir, posts)
        runs: dict[str, list[dict[str, Any]]] = {"w1": [], "w2": [], "ray": []}
        for _ in range(args.runs):  # alternating, so that load on the shared machine hits all
            runs["w1"].append(build(ws, out, "--workers", "1"))
            runs["w2"].append(build(ws, out, "--workers", "2"))
            if not args.no_ray:
                runs["ray"].append(build(ws, out, "--executor", "ray", ray=True))
            for name, got in runs.items():
                if got:
                    print(f"  {name}: {got[-1]['wall']:.2f} s wall, {got[-1]['cpu']:.2f} CPU-s")
        manifests = {r["manifest"] for group in runs.values() for r in group}
        assert len(manifests) == 1, "the executors' manifests differ"

        def med(key: str, name: str) -> float:
            return float(statistics.median(r[key] for r in runs[name]))

        one_wall, one_cpu = med("wall", "w1"), med("cpu", "w1")
        figures.append(
            Figure(
                f"build --workers 1, {posts:,} posts (baseline)",
                [r["wall"] for r in runs["w1"]],
                items=posts,
                notes={
                    "posts_per_cpu_second": posts / one_cpu,
                    "cpu": [r["cpu"] for r in runs["w1"]],
                },
            )
        )
        two_wall, two_cpu = med("wall", "w2"), med("cpu", "w2")
        figures.append(
            Figure(
                f"build --workers 2, {posts:,} posts",
                [r["wall"] for r in runs["w2"]],
                items=posts,
                goal="wall ≤ 0.6× --workers 1, posts per CPU-second within 10%",
                met=two_wall <= 0.6 * one_wall and posts / two_cpu >= 0.9 * posts / one_cpu,
                notes={
                    "wall_ratio": two_wall / one_wall,
                    "posts_per_cpu_second": posts / two_cpu,
                    "cpu_ratio": two_cpu / one_cpu,
                    "worker_rss_mb": [r["worker_rss_mb"] for r in runs["w2"]],
                },
            )
        )
        print(
            f"  workers 2 / workers 1: wall {two_wall / one_wall:.2f}×, posts per CPU-second "
            f"{posts / two_cpu:,.0f} vs {posts / one_cpu:,.0f}",
            flush=True,
        )
        if runs["ray"]:
            ray_wall = med("wall", "ray")
            figures.append(
                Figure(
                    f"build --executor ray (local, 2 CPUs), {posts:,} posts",
                    [r["wall"] for r in runs["ray"]],
                    items=posts,
                    goal="wall ≤ 1.3× --workers 2",
                    met=ray_wall <= 1.3 * two_wall,
                    notes={"ratio_to_workers_2": ray_wall / two_wall},
                )
            )
            print(f"  ray / workers 2: wall {ray_wall / two_wall:.2f}×", flush=True)
    peaks: dict[int, float] = {}
    # The build's own process too: it writes the partitioned state, and must not hold it whole.
    parent: dict[int, float] = {}
    for accounts in args.accounts:
        aws = prepare(args.workdir, posts, accounts)
        got = [build(aws, out, "--workers", "2") for _ in range(args.runs)]
        peaks[accounts] = statistics.median(r["worker_rss_mb"] for r in got)
        parent[accounts] = statistics.median(r["main_rss_mb"] for r in got)
        print(
            f"  {accounts:,} accounts: peak RSS per worker {peaks[accounts]:,.0f} MB, "
            f"build process {parent[accounts]:,.0f} MB",
            flush=True,
        )
    if len(peaks) >= 2:
        smallest, largest = min(peaks), max(peaks)
        growth = peaks[largest] / peaks[smallest]
        figures.append(
            Figure(
                f"peak RSS per worker, {smallest:,} → {largest:,} accounts",
                [0.0],
                goal="flat: ×1.1 at most",
                met=growth <= 1.1,
                notes={
                    "peak_rss_mb": peaks,
                    "growth": growth,
                    "build_process_rss_mb": parent,
                    "build_process_growth": parent[largest] / parent[smallest],
                },
            )
        )
        print(
            f"  peak RSS per worker grows ×{growth:.2f}, build process "
            f"×{parent[largest] / parent[smallest]:.2f}",
            flush=True,
        )
    report("snapshot build executors", figures, args.json)


if __name__ == "__main__":
    main()
