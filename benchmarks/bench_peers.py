"""Benchmark: `consentry snapshot build` beside the same job written in DuckDB and in Polars.

The export comes from an independent generator (Faker's words, names, e-mails, URLs, phones,
IPs, IBANs and card numbers, assembled with a seeded numpy generator; not our demo generator),
written as a canonical export in Parquet (``docs/canonical-format.md``) and imported once
(untimed, kept in ``--workdir``). The job, as a data engineer would write it with either engine
reading that export: the consent join (per account, the latest ``train`` decision covering
posts), the exclusion filters (account status, protected, minor, direct messages, not public,
deleted), exact dedup (lower-cased, whitespace collapsed; the earliest wins), a keyed hash of
the content and author ids, 7 regex replacements, zstd Parquet.

Each run (alternating) runs the three in child processes. The peers time themselves after their
imports: wall time and CPU-seconds of all their threads, with 2 threads. The build runs as a
user runs it (the CLI, its defaults) and its whole process tree is sampled (the build, its
forkserver, its workers): its start-up is counted, and printed apart. The included rows must
be the same set of content ids in all three (the build's ``record_id`` pseudonyms and the
peers' hashes are mapped back to ids here): a run that differs stops the benchmark.
Reported: medians and the build's ratios to each peer.

    .venv/bin/python -m benchmarks.bench_peers --posts 2000000 --runs 3
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.bench_build_scale import build as build_tree
from benchmarks.bench_snapshot import PRISTINE
from benchmarks.common import Figure, parser, report

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "consentry.cli.main"]
#: The peers' key for their keyed hash of ids (a benchmark's constant, not a secret).
PEER_KEY = "bench-peers-key-0123456789abcdef"
PEER_THREADS = 2
MINIMUM_AGE = 18  # the shipped policy's

#: The 7 replacements both peers make, in this order (RE2 for DuckDB, Rust's regex for Polars:
#: both read these the same way).
REPLACEMENTS: list[tuple[str, str]] = [
    (r"https?://\S+", "<URL>"),
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "<EMAIL>"),
    (r"@\w{1,30}", "@user"),
    (r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b", "<IBAN>"),
    (r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{1,7}\b", "<CARD>"),
    (r"\b(?:\d{1,3}\.){3}\d{1,3}\b", "<IP>"),
    (r"\+?\(?\d[\d .()x-]{7,}\d", "<PHONE>"),
]


# ---------------------------------------------------------------------------------------------
# The independent export


def _faker_pool(seed: int, accounts: int) -> dict[str, list[str]]:
    from faker import Faker
    from faker.providers.lorem.en_US import Provider as Lorem

    fake = Faker("en_US")
    fake.seed_instance(seed)
    n = 3_000
    return {
        "words": list(Lorem.word_list),
        "email": [fake.email() for _ in range(n)],
        "url": [fake.url() for _ in range(n)],
        "phone": [fake.phone_number() for _ in range(n)],
        "ip": [fake.ipv4() for _ in range(n)],
        "iban": [fake.iban() for _ in range(n)],
        "card": [fake.credit_card_number() for _ in range(n)],
        "handles": [f"{fake.user_name()}{i}" for i in range(accounts)],
        "names": [fake.name() for _ in range(n)],
    }


def _times(base: datetime, seconds: np.ndarray) -> pa.Array:
    micros = int(base.timestamp()) * 1_000_000 + seconds.astype(np.int64) * 1_000_000
    return pa.array(micros, pa.timestamp("us", tz="UTC"))


def _nulls_where(null: np.ndarray, values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string(), mask=null)


def _unique_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    while True:
        ids = np.unique(rng.integers(10**17, 9 * 10**18, size=int(n * 1.05) + 16))
        if len(ids) >= n:
            rng.shuffle(ids)
            return ids[:n]


def generate(out: Path, posts: int, accounts: int, seed: int = 7) -> None:
    """A canonical export (Parquet) of ``accounts`` accounts and ``posts`` content items."""
    rng = np.random.default_rng(seed)
    pool = _faker_pool(seed, accounts)
    out.mkdir(parents=True, exist_ok=True)
    today = datetime.now(UTC).date()

    account_ids = _unique_ids(rng, accounts).astype(str)
    status = rng.choice(
        ["active", "deactivated", "suspended", "deleted"], size=accounts, p=[0.95, 0.02, 0.01, 0.02]
    )
    # Birth dates well away from the age cutoff: adults born by 2000, minors from 2011 on.
    age_kind = rng.choice(3, size=accounts, p=[0.85, 0.10, 0.05])  # adult, unknown, minor
    adult_days = rng.integers(
        (date(1950, 1, 1) - date(1970, 1, 1)).days,
        (date(2000, 12, 31) - date(1970, 1, 1)).days,
        size=accounts,
    )
    minor_days = rng.integers(
        (date(today.year - 15, 1, 1) - date(1970, 1, 1)).days,
        (date(today.year - 12, 1, 1) - date(1970, 1, 1)).days,
        size=accounts,
    )
    birth = pa.array(np.where(age_kind == 2, minor_days, adult_days).astype(np.int32), pa.date32())
    birth = pc.if_else(pa.array(age_kind == 1), pa.scalar(None, pa.date32()), birth)
    pq.write_table(
        pa.table(
            {
                "id": pa.array(account_ids),
                "handle": pa.array(pool["handles"]),
                "display_name": pa.array(rng.choice(pool["names"], size=accounts)),
                "created_at": _times(
                    datetime(2015, 1, 1, tzinfo=UTC), rng.integers(0, 5 * 365 * 86_400, accounts)
                ),
                "country": pa.array(rng.choice(["US", "FR", "DE", "GB", "BR", "JP"], accounts)),
                "birth_date": birth,
                "protected": pa.array(rng.random(accounts) < 0.05),
                "status": pa.array(status),
            }
        ),
        out / "accounts.parquet",
    )

    # Consent: 70% of accounts decided, 1 to 3 times for train (distinct times, the last one
    # grants 3 times in 4); some also narrowed a later decision to another scope, or decided
    # for sharing, which must not change their posts' verdict.
    decided = np.flatnonzero(rng.random(accounts) < 0.7)
    times_each = rng.integers(1, 4, size=len(decided))
    who = np.repeat(decided, times_each)
    order = np.arange(len(who)) - np.repeat(np.cumsum(times_each) - times_each, times_each)
    last = order == np.repeat(times_each, times_each) - 1
    grant = np.where(last, rng.random(len(who)) < 0.75, rng.random(len(who)) < 0.5)
    at = rng.integers(0, 86_400 * 30, size=len(who)) + order * 86_400 * 60
    noise = rng.choice(decided, size=len(decided) // 5, replace=False)
    noise_scope = rng.choice(["assistant", "interactions", ""], size=len(noise))
    noise_purpose = np.where(noise_scope == "", "share", "train")
    consent_base = datetime(2021, 1, 1, tzinfo=UTC)
    pq.write_table(
        pa.table(
            {
                "account_id": pa.array(np.concatenate([account_ids[who], account_ids[noise]])),
                "purpose": pa.array(np.concatenate([np.full(len(who), "train"), noise_purpose])),
                "decision": pa.array(
                    np.concatenate([np.where(grant, "grant", "deny"), np.full(len(noise), "deny")])
                ),
                "at": _times(
                    consent_base,
                    np.concatenate([at, np.full(len(noise), 86_400 * 400)]),
                ),
                "source": pa.array(np.full(len(who) + len(noise), "web")),
                "scope": _nulls_where(
                    np.concatenate([np.full(len(who), ""), noise_scope]) == "",
                    np.concatenate([np.full(len(who), ""), noise_scope]),
                ),
            }
        ),
        out / "consent.parquet",
    )

    content_ids = _unique_ids(rng, posts).astype(str)
    kind = rng.choice(["post", "reply", "quote", "dm"], size=posts, p=[0.70, 0.20, 0.05, 0.05])
    visibility = rng.choice(["public", "followers", "mentioned"], size=posts, p=[0.9, 0.07, 0.03])
    visibility = np.where(kind == "dm", "direct", visibility)
    # Texts: 5 to 25 tokens; a mention 1 token in 40, each other kind of personal data 1 in
    # 1,000 (about 1.5% of posts hold a phone number, 1.5% an e-mail, …). Faker's US phones
    # ("263-895-5060x86398") are costly for any validating scrubber: a denser mix measures
    # phone validation more than the job.
    lengths = rng.integers(5, 26, size=posts)
    total = int(lengths.sum())
    kinds = ["email", "url", "phone", "ip", "iban", "card"]
    vocab_parts = [pool["words"], *(pool[k] for k in kinds), ["@" + h for h in pool["handles"]]]
    starts = np.cumsum([0] + [len(p) for p in vocab_parts])
    vocab = pa.array([w for part in vocab_parts for w in part])
    which = rng.choice(len(vocab_parts), size=total, p=[1 - 0.025 - 0.006, *[0.001] * 6, 0.025])
    sizes = np.diff(starts)
    tokens = starts[which] + (rng.random(total) * sizes[which]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), vocab.take(pa.array(tokens)))
    texts = pc.binary_join(lists, " ")
    # Exact duplicates: 4% copy another item's text, half of them shouted.
    dup = np.flatnonzero(rng.random(posts) < 0.04)
    source = rng.integers(0, posts, size=len(dup))
    copied = texts.take(pa.array(source))
    copied = pc.if_else(pa.array(rng.random(len(dup)) < 0.5), pc.utf8_upper(copied), copied)
    texts = pc.replace_with_mask(texts, pa.array(np.isin(np.arange(posts), dup)), copied)
    # Distinct creation times: "the earliest wins" has one answer.
    created_s = rng.permutation(posts).astype(np.int64) * 3
    created_base = datetime(2025, 1, 1, tzinfo=UTC)
    deleted = rng.random(posts) < 0.02
    parent = content_ids[rng.integers(0, posts, size=posts)]
    pq.write_table(
        pa.table(
            {
                "id": pa.array(content_ids),
                "author_id": pa.array(account_ids[rng.integers(0, accounts, size=posts)]),
                "kind": pa.array(kind),
                "text": texts,
                "created_at": _times(created_base, created_s),
                "lang": pa.array(np.full(posts, "en")),
                "visibility": pa.array(visibility),
                "in_reply_to": _nulls_where(kind != "reply", parent),
                "quote_of": _nulls_where(kind != "quote", parent),
                "deleted_at": pc.if_else(
                    pa.array(deleted),
                    _times(created_base + timedelta(days=1), created_s),
                    pa.scalar(None, pa.timestamp("us", tz="UTC")),
                ),
            }
        ),
        out / "content.parquet",
        row_group_size=256 * 1024,
    )


def prepare(workdir: Path, posts: int, accounts: int) -> tuple[Path, Path]:
    """The export and a workspace that imported it (both kept between runs)."""
    export = workdir / f"export-{posts}-a{accounts}"
    ws = workdir / f"ws-{posts}-a{accounts}"
    done = ws / ".bench-ready"
    if done.exists() and (ws / PRISTINE).exists() and (export / "content.parquet").exists():
        return export, ws
    shutil.rmtree(ws, ignore_errors=True)
    shutil.rmtree(export, ignore_errors=True)
    print(f"  preparing {posts:,} posts, {accounts:,} accounts (untimed)…", flush=True)
    generate(export, posts, accounts)
    env = {**os.environ, "CONSENTRY_WORKSPACE": str(ws)}
    env.pop("CONSENTRY_DB", None)
    for args in (["init"], ["import", "canonical", str(export)]):
        subprocess.run([*CLI, *args], check=True, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
    shutil.copyfile(ws / "ledger.db", ws / PRISTINE)
    done.touch()
    return export, ws


# ---------------------------------------------------------------------------------------------
# The peers, each run in a child process that times itself after its imports


PEER_CHILD = """
import json, resource, sys, time
def cpu():
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime
engine, export, out, cutoff = sys.argv[1:5]
import duckdb, polars
from benchmarks.bench_peers import run_duckdb, run_polars
start, cpu0 = time.perf_counter(), cpu()
rows = (run_duckdb if engine == "duckdb" else run_polars)(export, out, cutoff)
print(json.dumps({"wall": time.perf_counter() - start, "cpu": cpu() - cpu0, "rows": rows}))
"""


def run_duckdb(export: str, out: str, cutoff: str) -> int:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {PEER_THREADS}")
    scrubbed = "text"
    for pattern, replacement in REPLACEMENTS:
        scrubbed = f"regexp_replace({scrubbed}, '{pattern}', '{replacement}', 'g')"
    query = f"""
    COPY (
      WITH consent AS (
        SELECT account_id, arg_max(decision, "at") AS decision
        FROM read_parquet('{export}/consent.parquet')
        WHERE purpose = 'train' AND (scope IS NULL OR scope = 'posts')
        GROUP BY account_id
      ),
      eligible AS (
        SELECT c.id, c.author_id, c.kind, c.lang, c.created_at, c.text
        FROM read_parquet('{export}/content.parquet') c
        JOIN read_parquet('{export}/accounts.parquet') a ON a.id = c.author_id
        JOIN consent k ON k.account_id = c.author_id
        WHERE a.status = 'active' AND NOT a.protected
          AND (a.birth_date IS NULL OR a.birth_date <= DATE '{cutoff}')
          AND c.kind <> 'dm' AND c.visibility = 'public' AND c.deleted_at IS NULL
          AND k.decision = 'grant'
      ),
      kept AS (
        SELECT * FROM eligible
        QUALIFY row_number() OVER (
          PARTITION BY trim(regexp_replace(lower(text), '\\s+', ' ', 'g'))
          ORDER BY created_at, id
        ) = 1
      )
      SELECT sha256('{PEER_KEY}' || id) AS record_id,
             sha256('{PEER_KEY}' || author_id) AS author,
             kind, lang, date_trunc('day', created_at) AS created_at,
             {scrubbed} AS text
      FROM kept
    ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
    """
    con.execute(query)
    rows: int = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]  # type: ignore[index]
    return rows


def run_polars(export: str, out: str, cutoff: str) -> int:
    import polars as pl

    consent = (
        pl.scan_parquet(f"{export}/consent.parquet")
        .filter(
            (pl.col("purpose") == "train")
            & (pl.col("scope").is_null() | (pl.col("scope") == "posts"))
        )
        .sort("at")
        .group_by("account_id")
        .agg(pl.col("decision").last())
    )
    accounts = pl.scan_parquet(f"{export}/accounts.parquet").filter(
        (pl.col("status") == "active")
        & ~pl.col("protected")
        & (pl.col("birth_date").is_null() | (pl.col("birth_date") <= date.fromisoformat(cutoff)))
    )
    text = pl.col("text")
    for pattern, replacement in REPLACEMENTS:
        text = text.str.replace_all(pattern, replacement)
    # Polars has no SHA-256: its seeded 64-bit hash, twice over, stands for the keyed hash.
    seed = int.from_bytes(hashlib.sha256(PEER_KEY.encode()).digest()[:8], "big") >> 1

    def keyed(col: str) -> pl.Expr:
        return pl.format(
            "{}{}",
            pl.col(col).hash(seed=seed).cast(pl.String),
            pl.col(col).hash(seed=seed + 1).cast(pl.String),
        )

    job = (
        pl.scan_parquet(f"{export}/content.parquet")
        .filter(
            (pl.col("kind") != "dm")
            & (pl.col("visibility") == "public")
            & pl.col("deleted_at").is_null()
        )
        .join(accounts.select(pl.col("id").alias("author_id")), on="author_id")
        .join(
            consent.filter(pl.col("decision") == "grant"),
            left_on="author_id",
            right_on="account_id",
        )
        .with_columns(
            norm=pl.col("text").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
        )
        .sort(["created_at", "id"])
        .unique(subset="norm", keep="first", maintain_order=False)
        .select(
            keyed("id").alias("record_id"),
            keyed("author_id").alias("author"),
            "kind",
            "lang",
            pl.col("created_at").dt.truncate("1d"),
            text.alias("text"),
        )
    )
    job.sink_parquet(out, compression="zstd")
    return int(pl.scan_parquet(out).select(pl.len()).collect().item())


def _peer(engine: str, export: Path, out: Path, cutoff: date) -> dict[str, Any]:
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "POLARS_MAX_THREADS": str(PEER_THREADS),
        "OMP_NUM_THREADS": str(PEER_THREADS),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PEER_CHILD, engine, str(export), str(out), cutoff.isoformat()],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    stats: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return stats


def _build(ws: Path, out: Path) -> dict[str, Any]:
    """The build as a user runs it (the CLI, its defaults: every core), its whole process tree
    sampled for CPU (the build's own ``getrusage`` misses its workers). Its start-up (Python
    and the command line in the build, the steps' modules once in its forkserver) is counted:
    it is the build's cost as much as any step's; ``_startup`` says how much of it one start is."""
    return build_tree(ws, out)


def _startup() -> float:
    """CPU-seconds of one ``consentry snapshot --help``: Python and what the build's command
    imports (its own group of commands: ``consentry.cli.main.COMMANDS``) before it builds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([*CLI, "snapshot", "--help"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# ---------------------------------------------------------------------------------------------
# The included rows, as content ids


def _id_maps(export: Path, ws: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Content id of each build pseudonym, DuckDB hash and Polars hash (each computed here
    independently of the job that produced it, except Polars' own hash function)."""
    import polars as pl

    from consentry.scrub.pseudonym import Pseudonymiser
    from consentry.workspace import Workspace

    ids = pq.read_table(export / "content.parquet", columns=["id"]).column("id").combine_chunks()
    pseudonyms = Pseudonymiser(Workspace.open(ws).secret()).contents(ids).to_pylist()
    id_list = ids.to_pylist()
    key = PEER_KEY.encode()
    duck = {hashlib.sha256(key + i.encode()).hexdigest(): i for i in id_list}
    seed = int.from_bytes(hashlib.sha256(PEER_KEY.encode()).digest()[:8], "big") >> 1
    frame = pl.DataFrame({"id": id_list})
    hashed = frame.select(
        pl.format(
            "{}{}",
            pl.col("id").hash(seed=seed).cast(pl.String),
            pl.col("id").hash(seed=seed + 1).cast(pl.String),
        )
    ).to_series()
    return (
        dict(zip(pseudonyms, id_list, strict=True)),
        duck,
        dict(zip(hashed.to_list(), id_list, strict=True)),
    )


def _included(folder_or_file: Path, mapping: dict[str, str]) -> set[str]:
    files = (
        sorted((folder_or_file / "data").glob("*.parquet"))
        if folder_or_file.is_dir()
        else [folder_or_file]
    )
    got: set[str] = set()
    for path in files:
        got.update(
            mapping[r] for r in pq.read_table(path, columns=["record_id"])["record_id"].to_pylist()
        )
    return got


def _cutoff() -> date:
    today = datetime.now(UTC).date()
    try:
        return today.replace(year=today.year - MINIMUM_AGE)
    except ValueError:  # 29 February
        return today.replace(year=today.year - MINIMUM_AGE, day=28)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--posts", type=int, default=2_000_000)
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/consentry-bench-peers"))
    p.add_argument("--keep", action="store_true", help="keep the export and workspace")
    args = p.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    export, ws = prepare(args.workdir, args.posts, args.accounts)
    cutoff = _cutoff()
    outs = {
        "build": args.workdir / "snapshot",
        "duckdb": args.workdir / "duckdb.parquet",
        "polars": args.workdir / "polars.parquet",
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in outs}
    startups: list[float] = []
    for _ in range(args.runs):
        startups.append(_startup())
        runs["build"].append(_build(ws, outs["build"]))
        runs["duckdb"].append(_peer("duckdb", export, outs["duckdb"], cutoff))
        runs["polars"].append(_peer("polars", export, outs["polars"], cutoff))

    maps = dict(zip(outs, _id_maps(export, ws), strict=True))
    sets = {name: _included(outs[name], maps[name]) for name in outs}
    for name in ("duckdb", "polars"):
        if sets[name] != sets["build"]:
            only_build = len(sets["build"] - sets[name])
            only_peer = len(sets[name] - sets["build"])
            sys.exit(
                f"included rows differ: {only_build:,} only in the build, {only_peer:,} only "
                f"in {name}"
            )
    included = len(sets["build"])
    print(f"  included rows: the same {included:,} content ids in all three", flush=True)

    med = {
        name: (
            statistics.median(r["wall"] for r in runs[name]),
            statistics.median(r["cpu"] for r in runs[name]),
        )
        for name in outs
    }
    figures: list[Figure] = []
    for name in outs:
        wall, cpu = med[name]
        notes: dict[str, Any] = {
            "cpu_seconds": [r["cpu"] for r in runs[name]],
            "cpu_median": cpu,
            "posts_per_cpu_second": args.posts / cpu,
            "included": included,
        }
        label = "snapshot build (default)" if name == "build" else f"{name}, {PEER_THREADS} threads"
        goal = met = None
        if name == "build":
            notes["startup_cpu_seconds"] = statistics.median(startups)
            ratios = {f"cpu_vs_{peer}": cpu / med[peer][1] for peer in ("duckdb", "polars")} | {
                f"wall_vs_{peer}": wall / med[peer][0] for peer in ("duckdb", "polars")
            }
            notes |= ratios
            goal = "CPU ≤ 1.0× DuckDB's and Polars'; wall ≤ theirs"
            met = all(v <= 1.0 for v in ratios.values())
            print(
                "  build vs DuckDB: CPU {cpu_vs_duckdb:.2f}×, wall {wall_vs_duckdb:.2f}×; "
                "vs Polars: CPU {cpu_vs_polars:.2f}×, wall {wall_vs_polars:.2f}×".format(**ratios),
                flush=True,
            )
        print(f"  {label}: {wall:.2f} s wall, {cpu:.2f} CPU-s", flush=True)
        if name == "build":
            print(
                f"  (of which one start of the command line: {notes['startup_cpu_seconds']:.2f}"
                " CPU-s, paid by the build; its forkserver loads the steps' modules once, and"
                " the workers, forked from it, load nothing)",
                flush=True,
            )
        figures.append(
            Figure(
                f"{label}, {args.posts:,} posts",
                [r["wall"] for r in runs[name]],
                items=args.posts,
                goal=goal,
                met=met,
                notes=notes,
            )
        )
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    report("peers: the build beside DuckDB and Polars", figures, args.json)


if __name__ == "__main__":
    main()
