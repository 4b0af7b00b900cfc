"""Many writers at once, and a writer killed mid-write: the chain never forks, verifies, and
holds every write that was acknowledged."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.ledger.ledger_support import Backend, deny, grant

from consentry.ledger import LedgerStore, Position

WRITER = Path(__file__).with_name("ledger_writer.py")


def start_writers(url: str, names: list[str], *extra: str) -> list[subprocess.Popen[str]]:
    """Start writer processes; return once each is ready, then let them all go at once."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), url, "--name", name, *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    return procs


def acks(lines: list[str]) -> list[Position]:
    return [Position.parse(line.split()[1]) for line in lines if line.startswith("ack ")]


def assert_holds(ledger: LedgerStore, acknowledged: list[Position]) -> None:
    """Every acknowledged head is in the ledger, at its sequence number, with its hash."""
    for position in acknowledged:
        assert ledger.position_at(position.seq) == position


def run_to_completion(backend: Backend, writers: int, count: int, batch: int) -> None:
    procs = start_writers(
        backend.url, [f"w{i}" for i in range(writers)], "--count", str(count), "--batch", str(batch)
    )
    acknowledged: list[Position] = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        lines = out.splitlines()
        assert lines[-1] == "done"
        acknowledged += acks(lines)
    assert len(acknowledged) == writers * count
    # Two appends never got the same position: no fork.
    assert len({a.seq for a in acknowledged}) == len(acknowledged)
    singles, batches = (count + 1) // 2, count // 2
    expected = writers * (singles + batches * max(batch, 1)) if batch > 1 else writers * count
    with backend.open() as ledger:
        report = ledger.verify()
        assert report.entries == expected
        assert_holds(ledger, acknowledged)
        # Every decision of every writer made it exactly once.
        accounts = ledger.consent_state().column("account_id").unique().to_pylist()
        assert len(accounts) == expected


@pytest.mark.slow
def test_processes_appending_at_once_never_fork(backend: Backend) -> None:
    # They also open a fresh database at the same moment: migrations must not race.
    run_to_completion(backend, writers=4, count=30, batch=1)


@pytest.mark.slow
def test_processes_mixing_single_and_batch_appends_never_fork(backend: Backend) -> None:
    run_to_completion(backend, writers=3, count=10, batch=40)


@pytest.mark.postgres
@pytest.mark.parametrize("shared", [False, True], ids=["own-connections", "one-shared-ledger"])
def test_eight_threads_appending_at_once_never_fork(postgres_url: str, shared: bool) -> None:
    backend = Backend("postgres", postgres_url)
    common = backend.open()  # also migrates first: this test is about appends
    per_thread, threads = 40, 8
    acknowledged: list[list[Position]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def write(k: int) -> None:
        try:
            ledger = common if shared else backend.open()  # its own connection, or one for all
            barrier.wait()
            for i in range(per_thread):
                item = grant(f"t{k}-{i}", minutes=i) if i % 2 else deny(f"t{k}-{i}")
                acknowledged[k].append(ledger.append([item]))
            # A bulk append (COPY under the same lock) in the middle of the single ones.
            if k == 0:
                bulk = [grant(f"bulk-{j}", minutes=j) for j in range(200)]
                acknowledged[k].append(ledger.append(bulk))
            if not shared:
                ledger.close()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    flat = [p for ps in acknowledged for p in ps]
    assert len({p.seq for p in flat}) == len(flat) == threads * per_thread + 1
    for ps in acknowledged:  # each connection saw its own appends in order
        assert [p.seq for p in ps] == sorted(p.seq for p in ps)
    with common:
        assert common.verify().entries == threads * per_thread + 200
        assert_holds(common, flat)


@pytest.mark.parametrize("batch", [1, 50], ids=["single", "batches"])
def test_a_writer_killed_mid_write_leaves_a_ledger_that_verifies(
    backend: Backend, batch: int
) -> None:
    with backend.open() as ledger:  # a ledger with history before the crash
        ledger.append([grant("before", minutes=1), deny("before", minutes=2)])
    (proc,) = start_writers(backend.url, ["crash"], "--forever", "--batch", str(batch))
    assert proc.stdout is not None
    lines: list[str] = []
    rng = random.Random()
    wanted = rng.randint(3, 30)
    while len(lines) < wanted:
        line = proc.stdout.readline()
        assert line, "the writer stopped early"
        lines.append(line.strip())
    time.sleep(rng.uniform(0, 0.02))  # a random moment, most likely inside an append
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    lines += proc.stdout.read().splitlines()  # acknowledged before the kill but not yet read
    proc.stdout.close()
    assert proc.stdin is not None
    proc.stdin.close()
    acknowledged = acks(lines)
    assert len(acknowledged) >= wanted
    with backend.open() as ledger:
        report = ledger.verify()
        assert report.head.seq >= acknowledged[-1].seq
        assert_holds(ledger, acknowledged)
        # And the ledger takes new entries after the crash.
        after = ledger.append([grant("after", minutes=3)])
        assert after.seq == report.head.seq + 1
        assert ledger.verify().head == after
