"""Licensees (API keys of one recipient): their snapshots and files, compliance events, usage.

A snapshot of another recipient (or an internal one) answers 404 exactly like one that does
not exist: a licensee learns nothing about what others received.

An acknowledgement may carry deletion attestations (``compliance.attestations``), one per
snapshot; any that does not hold refuses the whole acknowledgement (422). The compliance
events are also offered as X batch-compliance jobs (``/v1/compliance/jobs``): one job per
snapshot and type (``tweets``: records, ``users``: accounts), whose result file has X's layout.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from io import BufferedReader
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Query
from fastapi import Path as PathParam
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from consentry.api import downloads
from consentry.api.auth import KeyHolder, LicenseeDep, State
from consentry.api.fields import whole_number
from consentry.api.metering import Meter
from consentry.api.plans import Plans
from consentry.api.problems import ProblemError
from consentry.api.scanning import scan
from consentry.compliance.attestations import Attestation, AttestationRefusedError, Attestations
from consentry.compliance.deliveries import DATA, Deliveries, Delivery
from consentry.compliance.feed import DEFAULT_PAGE, X_USER_EVENTS, ComplianceFeed, x_event
from consentry.compliance.recipients import holder_key
from consentry.errors import NotFoundError
from consentry.ledger.entries import from_us
from consentry.scrub.pseudonym import Pseudonymiser
from consentry.snapshot.manifest import MANIFEST_NAME

router = APIRouter(prefix="/v1", tags=["licensees"])
SnapshotId = Annotated[str, PathParam(min_length=1, max_length=128)]
#: Files of a snapshot folder besides its shards that a licensee may fetch.
#: The manifest too, as its bytes: a licensee keeps it byte-identical to the platform's.
EXTRA_FILES: Final = ("README.md", "croissant.json", MANIFEST_NAME)
_SHA256 = r"^[0-9a-f]{64}$"


class AttestedShard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Annotated[str, Field(min_length=1, max_length=512)]
    rows: Annotated[int, Field(ge=0, le=2**62)]
    sha256: Annotated[str, Field(pattern=_SHA256)]


class AttestationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    snapshot_id: Annotated[str, Field(min_length=1, max_length=128)]
    merkle_root: Annotated[str, Field(pattern=_SHA256, description="root over remaining records")]
    records: Annotated[int, Field(ge=0, le=2**62, description="records remaining")]
    shards: Annotated[list[AttestedShard], Field(max_length=100_000)] = []


class Ack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    through: Annotated[int, Field(ge=1, le=2**62, description="the last event id processed")]
    attestations: Annotated[
        list[AttestationBody],
        Field(max_length=10_000, description="per affected snapshot, proof the records are gone"),
    ] = []


def _delivery(state: State, holder: KeyHolder, snapshot_id: str, *, count: bool = True) -> Delivery:
    with state.pool.ledger() as ledger:
        if count:
            Meter(ledger).count_request(holder.recipient)
        found = Deliveries(ledger).get(snapshot_id)
    if found is None or found.recipient != holder.recipient:
        raise ProblemError(404, f"no snapshot {snapshot_id!r} was delivered to you")
    return found


def _public(delivery: Delivery) -> dict[str, Any]:
    body = delivery.to_json()
    body.pop("path", None)  # a folder on the operator's machine: none of the licensee's business
    return body


def _manifest(delivery: Delivery) -> dict[str, Any]:
    what = f"the manifest of snapshot {delivery.snapshot_id}"
    with downloads.open_regular(Path(delivery.path), MANIFEST_NAME, what) as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def count_request(state: State, recipient: str) -> None:
    with state.pool.ledger() as ledger:
        Meter(ledger).count_request(recipient)


@router.get("/snapshots", summary="The snapshots delivered to my recipient")
async def snapshots(holder: LicenseeDep, state: State) -> dict[str, Any]:
    def read() -> list[Delivery]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            return Deliveries(ledger).for_recipient(holder.recipient)

    found = await run_in_threadpool(read)
    return {"recipient": holder.recipient, "snapshots": [_public(d) for d in found]}


@router.get("/snapshots/{snapshot_id}/manifest", summary="A snapshot's manifest (shard sha256s)")
async def manifest(snapshot_id: SnapshotId, holder: LicenseeDep, state: State) -> dict[str, Any]:
    delivery = await run_in_threadpool(_delivery, state, holder, snapshot_id)
    return await run_in_threadpool(_manifest, delivery)


@router.get(
    "/snapshots/{snapshot_id}/files/{file_path:path}",
    summary="One file of a snapshot, streamed; Range for resumable downloads",
    response_class=StreamingResponse,
    responses={206: {"description": "the range asked for"}, 416: {"description": "bad range"}},
)
async def snapshot_file(
    snapshot_id: SnapshotId,
    file_path: Annotated[str, PathParam(min_length=1, max_length=512)],
    holder: LicenseeDep,
    state: State,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header(alias="If-Range")] = None,
) -> StreamingResponse:
    # Counted with the bytes once the body is sent (one write per download, not two), or now
    # when the answer is an error.
    try:
        return await _file_response(state, holder, snapshot_id, file_path, range_header, if_range)
    except ProblemError:
        await run_in_threadpool(count_request, state, holder.recipient)
        raise


async def _file_response(
    state: State,
    holder: KeyHolder,
    snapshot_id: str,
    file_path: str,
    range_header: str | None,
    if_range: str | None,
) -> StreamingResponse:
    delivery = await run_in_threadpool(
        functools.partial(_delivery, state, holder, snapshot_id, count=False)
    )
    manifest_data = await run_in_threadpool(_manifest, delivery)
    # Only files the manifest names (never a path the client makes up: no "../").
    shards = {s["path"]: s for s in [*manifest_data["shards"], *manifest_data["interactions"]]}
    records = {s["path"]: int(s["rows"]) for s in manifest_data["shards"]}
    if file_path not in shards and file_path not in EXTRA_FILES:
        raise ProblemError(404, f"snapshot {snapshot_id} has no file {file_path!r}")
    fh = await run_in_threadpool(
        downloads.open_regular, Path(delivery.path), file_path, f"{file_path} of {snapshot_id}"
    )
    try:
        size = os.fstat(fh.fileno()).st_size
        if file_path in shards:
            sha256 = str(shards[file_path]["sha256"])
        else:
            sha256 = await run_in_threadpool(_sha256, fh)
        headers, span = _answer_headers(sha256, size, range_header, if_range)
    except BaseException:
        fh.close()
        raise
    recipient = holder.recipient

    def metered(sent: int, complete: bool) -> None:
        with state.pool.ledger() as ledger:
            meter = Meter(ledger)
            meter.count_request(recipient, bytes_sent=sent)
            # A record counts once it was delivered: when the file's last byte went out.
            if complete and span.end == size - 1 and file_path in records:
                meter.count_file(recipient, snapshot_id, file_path, records[file_path])

    return StreamingResponse(
        downloads.stream(fh, span, metered),
        status_code=206 if span.partial else 200,
        headers=headers,
        media_type="application/octet-stream",
    )


def _sha256(fh: BufferedReader) -> str:
    digest = hashlib.file_digest(fh, "sha256").hexdigest()
    fh.seek(0)
    return digest


def _answer_headers(
    sha256: str, size: int, range_header: str | None, if_range: str | None
) -> tuple[dict[str, str], downloads.Span]:
    headers = downloads.checksum_headers(sha256)
    span = downloads.span_of(range_header, if_range, size, headers["ETag"])
    headers["Content-Length"] = str(span.length)
    if span.partial:
        headers["Content-Range"] = f"bytes {span.start}-{span.end}/{size}"
    return headers, span


@router.get("/compliance/events", summary="Deletion events for my recipient, from a cursor")
async def compliance_events(
    holder: LicenseeDep,
    state: State,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^\d*$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = DEFAULT_PAGE,
) -> dict[str, Any]:
    number = whole_number(cursor, "cursor")
    after = None if number is None else str(number)

    def read() -> dict[str, Any]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            scan(state.settings.workspace, ledger)
            events, next_cursor = ComplianceFeed(ledger).page(holder.recipient, after, limit)
        return {"events": [e.to_json() for e in events], "next_cursor": next_cursor}

    return await run_in_threadpool(read)


@router.post("/compliance/ack", summary="Acknowledge every event up to one (deleted)")
async def compliance_ack(body: Ack, holder: LicenseeDep, state: State) -> dict[str, Any]:
    attested = [
        Attestation(
            recipient=holder.recipient,
            snapshot_id=a.snapshot_id,
            through_event=body.through,
            merkle_root=a.merkle_root,
            records=a.records,
            shards=[s.model_dump() for s in a.shards],
        )
        for a in body.attestations
    ]

    def ack() -> dict[str, Any]:
        secret = state.settings.workspace.secret()
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            feed = ComplianceFeed(ledger)
            attestations = Attestations(ledger)
            checked = []
            for a in attested:
                try:
                    checked.append((attestations.check(secret, holder.recipient, a), a))
                except AttestationRefusedError as exc:
                    raise ProblemError(422, str(exc)) from None
                except NotFoundError as exc:
                    raise ProblemError(404, str(exc)) from None
            with ledger.transaction():
                newly = feed.ack(holder.recipient, body.through, attesting=True)
                for delivery, a in checked:
                    attestations.record(delivery, a)
            return {
                "acknowledged": newly,
                "through": body.through,
                "pending": feed.pending(holder.recipient),
                "attested": [a.snapshot_id for a in attested],
            }

    return await run_in_threadpool(ack)


JobType = Annotated[str, Query(pattern="^(tweets|users)$", description="X's job types")]
_TYPES: Final = ("tweets", "users")


def _job(delivery: Delivery, kind: str) -> dict[str, Any]:
    """A batch-compliance job in X's layout: always complete (the events are already known)."""
    job_id = str(delivery.delivery_id * 2 + _TYPES.index(kind))
    return {
        "id": job_id,
        "type": kind,
        "name": delivery.snapshot_id,
        "status": "complete",
        "resumable": False,
        "created_at": delivery.created.isoformat(),
        "upload_url": None,
        "upload_expires_at": None,
        "download_url": f"/v1/compliance/jobs/{job_id}/download",
        "download_expires_at": None,
    }


def _job_delivery(state: State, holder: KeyHolder, job_id: str) -> tuple[Delivery, str]:
    number = whole_number(job_id, "job id")
    with state.pool.ledger() as ledger:
        Meter(ledger).count_request(holder.recipient)
        found = (
            None if number is None else Deliveries(ledger).by_ids([number // 2]).get(number // 2)
        )
    if number is None or found is None or found.recipient != holder.recipient:
        raise ProblemError(404, f"no compliance job {job_id!r} is yours")
    return found, _TYPES[number % 2]


@router.get("/compliance/jobs", summary="X-style batch-compliance jobs, one per snapshot and type")
async def compliance_jobs(
    holder: LicenseeDep, state: State, type: JobType = "tweets"
) -> dict[str, Any]:
    def read() -> list[Delivery]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            scan(state.settings.workspace, ledger)
            return Deliveries(ledger).for_recipient(holder.recipient)

    found = await run_in_threadpool(read)
    return {"data": [_job(d, type) for d in found], "meta": {"result_count": len(found)}}


@router.get("/compliance/jobs/{job_id}", summary="One batch-compliance job")
async def compliance_job(
    job_id: Annotated[str, PathParam(max_length=20, pattern=r"^\d+$")],
    holder: LicenseeDep,
    state: State,
) -> dict[str, Any]:
    delivery, kind = await run_in_threadpool(_job_delivery, state, holder, job_id)
    return {"data": _job(delivery, kind)}


@router.get(
    "/compliance/jobs/{job_id}/download",
    summary="A job's result: JSON lines in X's batch-compliance layout",
    response_class=Response,
)
async def compliance_job_download(
    job_id: Annotated[str, PathParam(max_length=20, pattern=r"^\d+$")],
    holder: LicenseeDep,
    state: State,
) -> Response:
    delivery, kind = await run_in_threadpool(_job_delivery, state, holder, job_id)

    def lines() -> str:
        with state.pool.ledger() as ledger:
            rows = ledger.query(
                "SELECT record_id, account_id, reason, at_us FROM compliance_events"
                " WHERE recipient = ? AND delivery_id = ? AND tbl = ? ORDER BY event_id",
                (holder_key(holder.recipient), delivery.delivery_id, DATA),
            )
        out: list[str] = []
        if kind == "tweets":
            for record_id, _, reason, at_us in rows:
                out.append(_x_line(str(record_id), str(reason), int(at_us)))
            return "".join(out)
        secret = state.settings.workspace.secret()
        pseudonyms = Pseudonymiser(secret, holder.recipient)
        seen: set[str] = set()
        for _, account_id, reason, at_us in rows:
            if x_event(str(reason))[0] in X_USER_EVENTS and account_id not in seen:
                seen.add(str(account_id))
                out.append(_x_line(pseudonyms.account(str(account_id)), str(reason), int(at_us)))
        return "".join(out)

    body = await run_in_threadpool(lines)
    return Response(body, media_type="application/x-ndjson")


def _x_line(object_id: str, reason: str, at_us: int) -> str:
    at = from_us(at_us).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    row = {
        "id": object_id,
        "action": "delete",
        "created_at": at,
        "redacted_at": at,
        "reason": x_event(reason)[1],
        "consentry_reason": reason,
    }
    return json.dumps(row) + "\n"


@router.get("/usage", summary="Requests, records and bytes delivered this month, and the plan")
async def usage(holder: LicenseeDep, state: State) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            found = Meter(ledger).usage(holder.recipient)
            plan = Plans(ledger).of(holder.recipient)
        body: dict[str, Any] = dict(found.to_json())
        body["plan"] = plan.to_json() if plan else None
        return body

    return await run_in_threadpool(read)
