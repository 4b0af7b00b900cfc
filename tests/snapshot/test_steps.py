"""The build as steps: the same bytes whatever runs it (one process, worker processes, Ray),
however many workers, and after a worker is killed mid-step and the build resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pytest

from consentry.errors import ConsentryError
from consentry.ledger.store import LedgerStore
from consentry.snapshot import state_parts, steps
from consentry.snapshot.executors import LocalExecutor, RayExecutor, executor
from consentry.snapshot.state_parts import read_state, write_state
from consentry.snapshot.steps import census_tasks

from .conftest import Build, RecordingSink

REPO = Path(__file__).resolve().parents[2]


def snapshot_files(folder: Path) -> dict[str, bytes]:
    """Every file of a published snapshot, by path, with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_every_worker_count_gives_the_same_bytes(build: Build) -> None:
    reference = snapshot_files(build("one", executor=LocalExecutor(1)).out)
    assert len([p for p in reference if p.startswith("data/")]) > 2  # several shards, tasks
    for workers in (2, 3):
        told = RecordingSink()
        got = build(f"w{workers}", executor=LocalExecutor(workers), sink=told)
        assert snapshot_files(got.out) == reference, workers
        assert told.content_rows  # the delivery map still hears of every included item


def test_the_sink_hears_the_same_whatever_the_worker_count(build: Build) -> None:
    one, two = RecordingSink(), RecordingSink()
    build("one", executor=LocalExecutor(1), sink=one)
    build("two", executor=LocalExecutor(2), sink=two)
    assert one.content_rows == two.content_rows
    assert one.interaction_rows == two.interaction_rows


def test_step_files_are_gone_once_published(build: Build) -> None:
    out = build("snap", executor=LocalExecutor(2)).out
    assert not (out / "steps").exists()
    assert not list(out.rglob("*.done"))
    assert not out.with_name(f".{out.name}.partial").exists()


def _workers_of(pid: int) -> list[psutil.Process]:
    """The pool's worker processes: children of the forkserver, itself a child of ``pid``."""
    return [
        grandchild for child in psutil.Process(pid).children() for grandchild in child.children()
    ]


def test_a_worker_killed_mid_step_then_resumed_gives_the_same_bytes(
    build: Build, ledger: LedgerStore, tmp_path: Path
) -> None:
    reference = snapshot_files(build("reference", batch_size=2, shard_rows=4).out)
    out = tmp_path / "crashed"
    partial = tmp_path / ".crashed.partial"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.snapshot.slow_build", ledger.url, str(out), "0.3", "2"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(partial.glob("data/*.done")) and time.monotonic() < deadline:
        assert proc.poll() is None, "the build ended before a worker could be killed"
        time.sleep(0.02)
    workers = _workers_of(proc.pid)
    assert workers, "no worker process to kill"
    os.kill(workers[0].pid, signal.SIGKILL)  # a real kill, mid-step: no cleanup runs
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "a build worker died during the records step" in err
    assert not out.exists()  # nothing published
    resumed = build("crashed", batch_size=2, shard_rows=4, executor=LocalExecutor(2))
    assert resumed.resumed_shards >= 1
    assert snapshot_files(out) == reference


def _killed_once_a_shard_is_sealed(ledger: LedgerStore, tmp_path: Path) -> Path:
    """A slowed build of ``tmp_path/crashed`` on 2 workers, killed with its workers (SIGKILL to
    the process group) once one shard is sealed; its partial folder."""
    out = tmp_path / "crashed"
    partial = tmp_path / ".crashed.partial"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.snapshot.slow_build", ledger.url, str(out), "0.3", "2"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list(partial.glob("data/*.done")) and time.monotonic() < deadline:
        assert proc.poll() is None, "the build ended before it could be killed"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the build and its workers, all at once
    proc.wait()
    assert not out.exists()
    return partial


def test_the_build_process_killed_then_resumed_with_other_workers(
    build: Build, ledger: LedgerStore, tmp_path: Path
) -> None:
    reference = snapshot_files(build("reference", batch_size=2, shard_rows=4).out)
    _killed_once_a_shard_is_sealed(ledger, tmp_path)
    resumed = build("crashed", batch_size=2, shard_rows=4, executor=LocalExecutor(1))
    assert resumed.resumed_shards >= 1
    assert snapshot_files(tmp_path / "crashed") == reference


def test_the_sink_hears_every_item_once_after_a_resumed_build(
    build: Build, ledger: LedgerStore, tmp_path: Path
) -> None:
    # The delivery map is told from the census's files, which a killed build keeps: a shard
    # sealed before the kill is told of like the others, once.
    told = RecordingSink()
    build("reference", batch_size=2, shard_rows=4, sink=told)
    _killed_once_a_shard_is_sealed(ledger, tmp_path)
    resumed_sink = RecordingSink()
    resumed = build("crashed", batch_size=2, shard_rows=4, sink=resumed_sink)
    assert resumed.resumed_shards >= 1
    assert resumed_sink.content_rows == told.content_rows
    assert resumed_sink.interaction_rows == told.interaction_rows


def test_partitioned_state_gives_just_the_accounts_asked(tmp_path: Path) -> None:
    ids = [f"acct-{i}" for i in range(500)]
    accounts = pa.table({"account_id": ids, "country": ["FR"] * 500})
    consent = pa.table({"account_id": ids[::2], "seq": list(range(250))})
    write_state(tmp_path, accounts, consent)
    asked = pa.array(["acct-3", "acct-4", "acct-4", None, "nobody"])
    got_accounts, got_consent = read_state(tmp_path, asked)
    assert sorted(got_accounts["account_id"].to_pylist()) == ["acct-3", "acct-4"]
    assert got_consent.to_pylist() == [{"account_id": "acct-4", "seq": 2}]
    assert got_accounts.schema == accounts.schema
    none_accounts, none_consent = read_state(tmp_path, pa.array([], pa.string()))
    assert none_accounts.num_rows == 0 and none_consent.schema == consent.schema


def test_a_bad_executor_or_worker_count_is_a_clear_error() -> None:
    with pytest.raises(ConsentryError, match="--executor must be one of local, ray"):
        executor("spark")
    with pytest.raises(ConsentryError, match="--workers must be at least 1"):
        LocalExecutor(-1)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",  # a Ray of our own, whatever cluster this machine may know of
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        # Ray's workers import the tests' pseudonyms and sources by module name.
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}},
    )
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_same_bytes_as_local_workers(build: Build, local_ray: None) -> None:
    reference = snapshot_files(build("local", executor=LocalExecutor(2)).out)
    told = RecordingSink()
    got = build("ray", executor=RayExecutor(), sink=told)
    assert snapshot_files(got.out) == reference
    assert told.content_rows


def test_step_files_are_streams_and_those_of_an_earlier_layout_still_load(
    tmp_path: Path,
) -> None:
    # A build resumed from work an earlier Consentry began: its step files are IPC files.
    from consentry.snapshot.steps import load, save

    table = pa.table({"reason": pa.array([0, 3, 1], pa.int8()), "entry": [5, 6, 7]})
    save(tmp_path / "new.arrow", table)
    assert not (tmp_path / "new.arrow").read_bytes().startswith(b"ARROW1")
    assert load(tmp_path / "new.arrow").equals(table)
    old = str(tmp_path / "old.arrow")
    with pa.OSFile(old, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    assert load(tmp_path / "old.arrow").equals(table)


@pytest.mark.parametrize(
    ("buckets", "rows", "per_task", "expected"),
    [
        # buckets of ~31k items, 131,072 per task: 4 buckets a task
        (64, 2_000_000, 131_072, [tuple(range(i, i + 4)) for i in range(0, 64, 4)]),
        # buckets larger than a task: one each
        (64, 10_000_000, 131_072, [(i,) for i in range(64)]),
        # the last task takes what is left
        (5, 10, 4, [(0, 1), (2, 3), (4,)]),
        (3, 3, 100, [(0, 1, 2)]),
        # no content: every bucket in one task, and no bucket, no task
        (4, 0, 8, [(0, 1, 2, 3)]),
        (0, 0, 8, []),
    ],
)
def test_census_tasks_are_runs_of_buckets_sized_by_items(
    buckets: int, rows: int, per_task: int, expected: list[tuple[int, ...]]
) -> None:
    assert [t.buckets for t in census_tasks(buckets, rows, per_task)] == expected


def test_census_tasks_of_several_buckets_give_the_bytes_of_one_bucket_each(build: Build) -> None:
    """The census's grouping changes what a worker holds, never what the build makes."""
    reference = snapshot_files(build("one", census_rows=1).out)
    for census_rows in (8, 1_000):
        got = build(f"c{census_rows}", census_rows=census_rows, executor=LocalExecutor(2))
        assert snapshot_files(got.out) == reference, census_rows


def test_a_state_read_whole_or_by_task_gives_the_same_bytes(build: Build) -> None:
    """A small ledger state is read whole, once per process; a larger one (a bound of 0 or 1
    row here), by each task for its accounts: the snapshot is the same."""
    reference = snapshot_files(build("by-task", whole_state_rows=0).out)
    for rows, workers in ((1, 1), (10**6, 1), (10**6, 2), (0, 2)):
        got = build(f"s{rows}-w{workers}", whole_state_rows=rows, executor=LocalExecutor(workers))
        assert snapshot_files(got.out) == reference, (rows, workers)


def test_a_small_state_is_read_once_per_build(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the build's own process (one worker): the whole state read once for every census and
    interactions task, then dropped; past the bound, each task reads its accounts' state."""
    calls = {"whole": 0, "keyed": 0}

    def counted(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(steps, "read_whole_state", counted("whole", state_parts.read_whole_state))
    monkeypatch.setattr(steps, "read_keyed_state", counted("keyed", state_parts.read_keyed_state))
    build("small", census_rows=1)  # a task per bucket: many tasks
    assert calls == {"whole": 1, "keyed": 0}
    assert steps._WHOLE_STATE._index is None  # dropped with the session
    build("again", census_rows=1)  # another build's state is read anew
    assert calls == {"whole": 2, "keyed": 0}
    build("large", census_rows=1, whole_state_rows=1)
    assert calls["whole"] == 2
    assert calls["keyed"] > 2


def test_a_build_killed_while_discarding_its_steps_resumes(
    build: Build, ledger: LedgerStore, tmp_path: Path
) -> None:
    """The steps' files are renamed away before they are deleted: a build killed during the
    deletion leaves a leftover beside the shards, never markers without their files; the
    build resumed removes it and gives the same bytes."""
    reference = snapshot_files(build("reference", batch_size=2, shard_rows=4).out)
    partial = _killed_once_a_shard_is_sealed(ledger, tmp_path)
    steps = partial / "steps"
    assert list(steps.rglob("*.done"))  # census buckets sealed
    # Killed midway through the deletion: renamed, then half of it deleted.
    os.replace(steps, partial / "steps.discarded")
    for i, path in enumerate(sorted((partial / "steps.discarded").rglob("*.arrow"))):
        if i % 2:
            path.unlink()
    build("crashed", batch_size=2, shard_rows=4, executor=LocalExecutor(2))
    assert snapshot_files(tmp_path / "crashed") == reference
