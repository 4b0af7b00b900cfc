"""Snapshot builds as background jobs: accepted at once (202), built in a thread of the worker
that accepted them, their status kept in the database so that any worker can answer for them.

A build runs on its own ledger connection (it reads for minutes; request threads keep the pool).
Its worker holds a lease on the job, a heartbeat refreshed every ``lease / 6``. When a worker
dies mid-build its lease runs out; the ``JobReaper`` of any live worker then claims the job
(one claim wins, by compare-and-set on the old heartbeat) and runs it again, which resumes the
build where it stopped: the job pinned the ledger position it builds as of when it was accepted,
so the rerun is the same build. After ``MAX_ATTEMPTS`` interrupted runs the job fails instead.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from consentry.api.settings import DEFAULT_JOB_LEASE_S
from consentry.compliance.deliveries import Deliveries
from consentry.compliance.recipients import Recipients
from consentry.errors import ConsentryError, UsageError
from consentry.ledger import AsOf, LedgerStore
from consentry.snapshot.build import BuildSpec
from consentry.snapshot.workspace_build import workspace_builder
from consentry.times import now_us
from consentry.workspace import Workspace

log = logging.getLogger("consentry.api.jobs")
_COLUMNS: Final = (
    "job_id, kind, status, params, result, error, created_us, started_us, finished_us, attempts"
)
MAX_ATTEMPTS: Final = 3


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    kind: str
    status: str  # queued, running, done, failed
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_us: int
    started_us: int | None
    finished_us: int | None
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "kind": self.kind,
            "status": self.status,
            "params": self.params,
            "result": self.result,
            "error": self.error,
            "created_us": self.created_us,
            "started_us": self.started_us,
            "finished_us": self.finished_us,
            "attempts": self.attempts,
        }


def _job(row: tuple[Any, ...]) -> Job:
    return Job(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        json.loads(row[3]),
        None if row[4] is None else json.loads(row[4]),
        row[5],
        int(row[6]),
        None if row[7] is None else int(row[7]),
        None if row[8] is None else int(row[8]),
        int(row[9] or 0),
    )


class Jobs:
    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger

    def create(self, kind: str, params: dict[str, Any], owner: str) -> Job:
        """A queued job, leased at once to ``owner`` (the worker that will run it)."""
        job_id = secrets.token_hex(8)
        now = now_us()
        self.ledger.execute(
            "INSERT INTO service_jobs (job_id, kind, status, params, created_us, owner,"
            " heartbeat_us, attempts) VALUES (?, ?, 'queued', ?, ?, ?, ?, 1)",
            (job_id, kind, json.dumps(params, sort_keys=True), now, owner, now),
        )
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        rows = self.ledger.query(f"SELECT {_COLUMNS} FROM service_jobs WHERE job_id = ?", (job_id,))
        if not rows:
            raise UsageError(f"no job {job_id!r}")
        return _job(rows[0])

    def find(self, job_id: str) -> Job | None:
        try:
            return self.get(job_id)
        except UsageError:
            return None

    def list(self, limit: int = 100) -> list[Job]:
        rows = self.ledger.query(
            f"SELECT {_COLUMNS} FROM service_jobs ORDER BY created_us DESC LIMIT ?", (limit,)
        )
        return [_job(r) for r in rows]

    def started(self, job_id: str) -> None:
        self.ledger.execute(
            "UPDATE service_jobs SET status = 'running', started_us = coalesce(started_us, ?)"
            " WHERE job_id = ?",
            (now_us(), job_id),
        )

    def beat(self, job_id: str, owner: str) -> None:
        self.ledger.execute(
            "UPDATE service_jobs SET heartbeat_us = ? WHERE job_id = ? AND owner = ?",
            (now_us(), job_id, owner),
        )

    def orphans(self, lease_s: float) -> tuple[tuple[Job, int], ...]:
        """Unfinished jobs whose lease ran out, each with the heartbeat it was last seen with."""
        stale = now_us() - int(lease_s * 1e6)
        rows = self.ledger.query(
            f"SELECT {_COLUMNS}, coalesce(heartbeat_us, created_us) FROM service_jobs"
            " WHERE status IN ('queued', 'running') AND coalesce(heartbeat_us, created_us) < ?",
            (stale,),
        )
        return tuple((_job(r[:-1]), int(r[-1])) for r in rows)

    def claim(self, job_id: str, seen_heartbeat: int, owner: str) -> bool:
        """Take over a job whose lease ran out; False when another worker was faster."""
        self.ledger.execute(
            "UPDATE service_jobs SET owner = ?, heartbeat_us = ?, attempts = attempts + 1"
            " WHERE job_id = ? AND status IN ('queued', 'running')"
            " AND coalesce(heartbeat_us, created_us) = ?",
            (owner, now_us(), job_id, seen_heartbeat),
        )
        rows = self.ledger.query("SELECT owner FROM service_jobs WHERE job_id = ?", (job_id,))
        return bool(rows) and rows[0][0] == owner

    def finished(self, job_id: str, result: dict[str, Any] | None, error: str | None) -> None:
        self.ledger.execute(
            "UPDATE service_jobs SET status = ?, result = ?, error = ?, finished_us = ?"
            " WHERE job_id = ?",
            (
                "failed" if error else "done",
                None if result is None else json.dumps(result, sort_keys=True),
                error,
                now_us(),
                job_id,
            ),
        )


def check_build(ledger: LedgerStore, ws: Workspace, purpose: str, recipient: str | None) -> None:
    """Refuse a build that cannot start, before accepting it."""
    ws.policy().require_purpose(purpose)
    if recipient is not None:
        Recipients(ledger).get(recipient)


def snapshot_params(ledger: LedgerStore, purpose: str, recipient: str | None) -> dict[str, Any]:
    # The position is pinned now: a rerun after a crash is then the same build, and resumes.
    return {"purpose": purpose, "recipient": recipient, "as_of": ledger.head().seq}


def run_build(ws: Workspace, job: Job, owner: str, lease_s: float = DEFAULT_JOB_LEASE_S) -> None:
    """Build and record the delivery; the job's row says how it went."""
    params = job.params
    purpose, recipient = str(params["purpose"]), params.get("recipient")
    as_of = AsOf(seq=int(params["as_of"])) if params.get("as_of") is not None else AsOf()
    with ws.ledger() as ledger, _heartbeat(ws, job.job_id, owner, lease_s / 6):
        jobs = Jobs(ledger)
        jobs.started(job.job_id)
        try:
            out = ws.snapshots_dir / f"{purpose}-{recipient or 'internal'}-{job.job_id}"
            builder = workspace_builder(ws, ledger, recipient=recipient)
            # A later attempt may find the snapshot published by the attempt that died before
            # recording it: the same build, replaced by identical bytes.
            spec = BuildSpec(
                purpose=purpose, out=out, recipient=recipient, as_of=as_of, force=job.attempts > 1
            )
            _, delivery = Deliveries(ledger, ws.deliveries_dir).build(builder, spec)
        except ConsentryError as exc:
            jobs.finished(job.job_id, None, str(exc))
            return
        except Exception as exc:
            log.exception("snapshot job %s failed", job.job_id)
            jobs.finished(job.job_id, None, f"internal error ({type(exc).__name__})")
            return
        jobs.finished(
            job.job_id,
            {"snapshot_id": delivery.snapshot_id, "records": delivery.records},
            None,
        )


@contextmanager
def _heartbeat(ws: Workspace, job_id: str, owner: str, every_s: float) -> Iterator[None]:
    stop = threading.Event()

    def beat() -> None:
        # Its own connection: the build's is busy for minutes at a time.
        with ws.ledger() as ledger:
            while not stop.wait(every_s):
                try:
                    Jobs(ledger).beat(job_id, owner)
                except ConsentryError as exc:  # a missed beat is retried; the lease is 6 beats
                    log.warning("job %s heartbeat failed: %s", job_id, exc)

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def start_build(ws: Workspace, job: Job, owner: str, lease_s: float = DEFAULT_JOB_LEASE_S) -> None:
    threading.Thread(
        target=run_build, args=(ws, job, owner, lease_s), name=f"job-{job.job_id}", daemon=True
    ).start()


class JobReaper:
    """Finds the jobs of dead workers and runs them here (one thread per worker process)."""

    def __init__(self, ws: Workspace, owner: str, lease_s: float = DEFAULT_JOB_LEASE_S) -> None:
        self.ws = ws
        self.owner = owner
        self.lease_s = lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="job-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            try:
                self.reap()
            except ConsentryError as exc:
                log.warning("looking for interrupted jobs failed: %s", exc)
            if self._stop.wait(self.lease_s / 3):
                return

    def reap(self) -> list[str]:
        """Claim and restart (or fail, past ``MAX_ATTEMPTS``) every orphaned job."""
        taken = []
        with self.ws.ledger() as ledger:
            jobs = Jobs(ledger)
            for job, seen in jobs.orphans(self.lease_s):
                if not jobs.claim(job.job_id, seen, self.owner):
                    continue
                taken.append(job.job_id)
                if job.attempts >= MAX_ATTEMPTS:
                    jobs.finished(
                        job.job_id, None, f"interrupted {job.attempts} times (its worker died)"
                    )
                    continue
                log.warning("resuming job %s of a worker that stopped", job.job_id)
                start_build(self.ws, jobs.get(job.job_id), self.owner, self.lease_s)
        return taken
