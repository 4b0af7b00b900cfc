"""Benchmark: ``consentry import canonical`` of a demo platform into a fresh workspace.

    .venv/bin/python -m benchmarks.bench_import --posts 1000000 --runs 3
    .venv/bin/python -m benchmarks.bench_import --posts 1000000 10000000 --runs 3 --runs-large 1

The demo platform is generated once per size (untimed, kept in ``--data`` for later runs with
``--keep-data``). Each run imports it in a child process into a new workspace; the child times
the import itself (wall clock and CPU time of all its threads) and reports its peak RSS (its
own ``VmHWM``: ``wait4`` would count the parent's resident pages too).
Figures are medians. Goal (issue 3): at least 200,000 posts per second per core — measured as
posts per CPU-second, i.e. whatever the core count, plus wall-clock rate on the cores used —
and peak memory flat as the input grows.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, flat_memory, own_peak_rss_kb, parser, report

GOAL_PER_CORE = 200_000


def _children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _child(data: Path, workspace: Path, workers: int) -> None:
    """Runs in the child process: one timed import, results as JSON on stdout. Its CPU time
    counts its worker processes too (all reaped when the import returns)."""
    from consentry.platform.canonical import import_canonical
    from consentry.platform.ingest import import_workers
    from consentry.workspace import Workspace

    ws = Workspace.init(workspace)
    cpu0, wall0, kids0 = time.process_time(), time.perf_counter(), _children_cpu()
    with import_workers(workers):
        result = import_canonical(ws, data)
    cpu = time.process_time() - cpu0 + _children_cpu() - kids0
    wall = time.perf_counter() - wall0
    counts = {k: vars(c) for k, c in result.by_kind.items()}
    print(
        json.dumps({"wall_s": wall, "cpu_s": cpu, "counts": counts, "peak_kb": own_peak_rss_kb()})
    )


def _baseline_child(data: Path) -> None:
    """Bare pyarrow on the same export: read every JSONL file, write it as zstd Parquet. What
    reading and storing the bytes costs with no validation, dedup, versioning or ledger."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    def read_write(tmp: Path) -> None:
        for path in sorted(data.glob("*.jsonl")):
            if path.stem == "ground_truth":  # written for the scrubber's benchmark, not imported
                continue
            table = pj.read_json(path)
            pq.write_table(table, tmp / f"{path.stem}.parquet", compression="zstd")

    _print_timed(data, read_write)


def _streaming_baseline_child(data: Path) -> None:
    """Bare pyarrow again, read as the import reads: streamed in 16 MB blocks on one thread into
    the canonical input schema (no schema inference), each batch written to zstd Parquet at
    once. The whole-file baseline above holds a file's table in memory (GBs at 10M posts) and
    parses it on every core; this one is the like-for-like floor of the import's read+write."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    from consentry.platform.canonical import CANONICAL_FILES
    from consentry.platform.fields import input_schema

    def read_write(tmp: Path) -> None:
        for stem, kind in dict(CANONICAL_FILES).items():
            path = data / f"{stem}.jsonl"
            if not path.exists():
                continue
            schema = input_schema(kind)
            reader = pj.open_json(
                path,
                read_options=pj.ReadOptions(use_threads=False, block_size=16 * 1024 * 1024),
                parse_options=pj.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                ),
            )
            with pq.ParquetWriter(tmp / f"{stem}.parquet", schema, compression="zstd") as writer:
                for batch in reader:
                    writer.write_batch(batch)

    _print_timed(data, read_write)


def _print_timed(data: Path, read_write: Callable[[Path], None]) -> None:
    """Run a baseline into a scratch folder beside the data; print its wall and CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-import-base-", dir=data.parent) as tmp:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        read_write(Path(tmp))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(json.dumps({"wall_s": wall, "cpu_s": cpu}))


def baseline(data: Path, *, streaming: bool = False) -> dict[str, float]:
    # In a child too: the parent stays small, and Linux counts a parent's resident pages in the
    # peak RSS of the children it forks (the import's figure would be the baseline's).
    flag = "--streaming-baseline-child" if streaming else "--baseline-child"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_import", flag, str(data)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def run_import(data: Path, workers: int = 1) -> dict[str, Any]:
    """One import in a child process: its own timings, and its peak RSS."""
    with tempfile.TemporaryDirectory(prefix="bench-import-ws-", dir=data.parent) as tmp:
        child = ["--child", str(data), tmp + "/ws", str(workers)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_import", *child],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, _ = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"import failed (exit {proc.returncode})")
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        result["peak_rss_mb"] = result.pop("peak_kb") / 1024
        result["store_mb"] = _size(Path(tmp) / "ws" / "content") / 1e6
    return result


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def demo_data(root: Path, posts: int, seed: int) -> Path:
    """The demo platform for ``posts`` (generated once; reused when already complete)."""
    from consentry.platform.demo import generate

    folder = root / f"demo-{posts}-seed{seed}"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        generate(folder, seed=seed, posts=posts)
        took = time.perf_counter() - start
        print(f"generated {posts:,} posts in {took:.1f} s ({posts / took:,.0f} posts/s)")
        done.write_text(f"{took}\n")
    return folder


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline-child":
        _baseline_child(Path(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--streaming-baseline-child":
        _streaming_baseline_child(Path(sys.argv[2]))
        return
    p = parser(__doc__.splitlines()[0] if __doc__ else "import benchmark")
    p.add_argument("--posts", type=int, nargs="+", default=[1_000_000], help="sizes to measure")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "consentry-bench-import"
    )
    p.add_argument("--keep-data", action="store_true", help="keep the generated platforms")
    p.add_argument(
        "--runs-large", type=int, default=None, help="runs for sizes of 5M posts and more"
    )
    p.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="worker counts to import with (the first is the main figure; the others are "
        "compared with it: wall time and CPU-seconds)",
    )
    args = p.parse_args()
    n_cores = cores()
    figures: list[Figure] = []
    peaks: dict[int, float] = {}
    args.data.mkdir(parents=True, exist_ok=True)
    try:
        for posts in args.posts:
            data = demo_data(args.data, posts, args.seed)
            n_runs = args.runs if posts < 5_000_000 else (args.runs_large or args.runs)
            runs, bases, streams = [], [], []
            parallel: dict[int, list[dict[str, Any]]] = {w: [] for w in args.workers[1:]}
            for _ in range(n_runs):  # alternating, so that all see the same machine
                bases.append(baseline(data))
                streams.append(baseline(data, streaming=True))
                runs.append(run_import(data, args.workers[0]))
                for w, done in parallel.items():
                    done.append(run_import(data, w))
            cpu = statistics.median(r["cpu_s"] for r in runs)
            base_cpu = statistics.median(b["cpu_s"] for b in bases)
            stream_cpu = statistics.median(b["cpu_s"] for b in streams)
            per_cpu_second = posts / cpu
            peaks[posts] = statistics.median(r["peak_rss_mb"] for r in runs)
            rows = sum(c["read"] for c in runs[0]["counts"].values())
            figures.append(
                Figure(
                    name=f"import canonical {posts:,} posts",
                    seconds=[r["wall_s"] for r in runs],
                    items=posts,
                    goal=f">= {GOAL_PER_CORE:,} posts/s per core (posts per CPU-second)",
                    met=per_cpu_second >= GOAL_PER_CORE,
                    notes={
                        "cores": n_cores,
                        "cpu_s": [r["cpu_s"] for r in runs],
                        "posts_per_cpu_second": round(per_cpu_second),
                        "wall_posts_per_second_per_core": round(
                            posts / statistics.median(r["wall_s"] for r in runs) / n_cores
                        ),
                        "rows_read_all_files": rows,
                        "peak_rss_mb": [round(r["peak_rss_mb"], 1) for r in runs],
                        "baseline_cpu_s": [round(b["cpu_s"], 2) for b in bases],
                        "baseline_wall_s": [round(b["wall_s"], 2) for b in bases],
                        "cpu_ratio_to_baseline": round(cpu / base_cpu, 2),
                        "streaming_baseline_cpu_s": [round(b["cpu_s"], 2) for b in streams],
                        "cpu_ratio_to_streaming_baseline": round(cpu / stream_cpu, 2),
                        "content_store_mb": round(runs[0]["store_mb"], 1),
                        "counts": runs[0]["counts"],
                    },
                )
            )
            f = figures[-1]
            print(
                f"{posts:>12,} posts: wall {f.median_s:.2f} s, cpu {cpu:.2f} s on {n_cores} "
                f"core(s) -> {per_cpu_second:,.0f} posts per CPU-second; "
                f"peak RSS {peaks[posts]:.0f} MB; bare pyarrow read+write {base_cpu:.2f} CPU-s "
                f"(import x{cpu / base_cpu:.2f}), streamed on one thread {stream_cpu:.2f} CPU-s "
                f"(import x{cpu / stream_cpu:.2f})"
            )
            for w, done in parallel.items():
                wall_w = statistics.median(r["wall_s"] for r in done)
                cpu_w = statistics.median(r["cpu_s"] for r in done)
                figures.append(
                    Figure(
                        name=f"import canonical {posts:,} posts, --workers {w}",
                        seconds=[r["wall_s"] for r in done],
                        items=posts,
                        notes={
                            "cpu_s": [r["cpu_s"] for r in done],
                            "posts_per_cpu_second": round(posts / cpu_w),
                            f"wall_ratio_to_workers_{args.workers[0]}": wall_w / f.median_s,
                            f"cpu_ratio_to_workers_{args.workers[0]}": cpu_w / cpu,
                            "peak_rss_mb": [round(r["peak_rss_mb"], 1) for r in done],
                        },
                    )
                )
                print(
                    f"{posts:>12,} posts, --workers {w}: wall {wall_w:.2f} s "
                    f"(x{wall_w / f.median_s:.2f} of --workers {args.workers[0]}), cpu "
                    f"{cpu_w:.2f} s (x{cpu_w / cpu:.2f})"
                )
            if not args.keep_data:
                shutil.rmtree(data, ignore_errors=True)
    finally:
        if not args.keep_data:
            shutil.rmtree(args.data, ignore_errors=True)
    flat = flat_memory(peaks)
    if flat is not None:
        figures.append(flat)
    report("bench_import: consentry import canonical", figures, args.json)


if __name__ == "__main__":
    main()
