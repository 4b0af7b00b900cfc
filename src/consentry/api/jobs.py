"""Snapshot builds as background jobs: accepted at once (202), built in a thread of the worker
that accepted them, their status kept in the database so that any worker can answer for them.

A build runs on its own ledger connection (it reads for minutes; request threads keep the pool).
A worker that dies mid-build leaves its job ``running``; the build itself resumes when started
again with the same arguments (snapshot builds are resumable).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from consentry.compliance.deliveries import Deliveries
from consentry.compliance.recipients import Recipients
from consentry.errors import ConsentryError, UsageError
from consentry.ledger import LedgerStore
from consentry.snapshot.build import BuildSpec
from consentry.snapshot.workspace_build import workspace_builder
from consentry.workspace import Workspace

log = logging.getLogger("consentry.api.jobs")
_COLUMNS: Final = "job_id, kind, status, params, result, error, created_us, started_us, finished_us"


def _now_us() -> int:
    return int(time.time() * 1e6)


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
    )


class Jobs:
    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger

    def create(self, kind: str, params: dict[str, Any]) -> Job:
        job_id = secrets.token_hex(8)
        self.ledger.execute(
            "INSERT INTO service_jobs (job_id, kind, status, params, created_us)"
            " VALUES (?, ?, 'queued', ?, ?)",
            (job_id, kind, json.dumps(params, sort_keys=True), _now_us()),
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
            "UPDATE service_jobs SET status = 'running', started_us = ? WHERE job_id = ?",
            (_now_us(), job_id),
        )

    def finished(self, job_id: str, result: dict[str, Any] | None, error: str | None) -> None:
        self.ledger.execute(
            "UPDATE service_jobs SET status = ?, result = ?, error = ?, finished_us = ?"
            " WHERE job_id = ?",
            (
                "failed" if error else "done",
                None if result is None else json.dumps(result, sort_keys=True),
                error,
                _now_us(),
                job_id,
            ),
        )


def check_build(ledger: LedgerStore, ws: Workspace, purpose: str, recipient: str | None) -> None:
    """Refuse a build that cannot start, before accepting it."""
    ws.policy().require_purpose(purpose)
    if recipient is not None:
        Recipients(ledger).get(recipient)


def run_build(ws: Workspace, job_id: str, purpose: str, recipient: str | None) -> None:
    """Build and record the delivery; the job's row says how it went."""
    with ws.ledger() as ledger:
        jobs = Jobs(ledger)
        jobs.started(job_id)
        try:
            out = ws.snapshots_dir / f"{purpose}-{recipient or 'internal'}-{job_id}"
            builder = workspace_builder(ws, ledger, recipient=recipient)
            result = builder.build(BuildSpec(purpose=purpose, out=out, recipient=recipient))
            delivery = Deliveries(ledger, ws.deliveries_dir).record(
                result, builder.source, builder.policy
            )
        except ConsentryError as exc:
            jobs.finished(job_id, None, str(exc))
            return
        except Exception as exc:
            log.exception("snapshot job %s failed", job_id)
            jobs.finished(job_id, None, f"internal error ({type(exc).__name__})")
            return
        jobs.finished(
            job_id,
            {"snapshot_id": delivery.snapshot_id, "records": delivery.records},
            None,
        )


def start_build(ws: Workspace, job_id: str, purpose: str, recipient: str | None) -> None:
    threading.Thread(
        target=run_build, args=(ws, job_id, purpose, recipient), name=f"job-{job_id}", daemon=True
    ).start()
