"""Licensees (API keys of one recipient): their snapshots and files, compliance events, usage.

A snapshot of another recipient (or an internal one) answers 404 exactly like one that does
not exist: a licensee learns nothing about what others received.
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
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from consentry.api import downloads
from consentry.api.auth import KeyHolder, LicenseeDep, State
from consentry.api.fields import whole_number
from consentry.api.metering import Meter
from consentry.api.plans import Plans
from consentry.api.problems import ProblemError
from consentry.api.scanning import scan
from consentry.compliance.deliveries import Deliveries, Delivery
from consentry.compliance.feed import DEFAULT_PAGE, ComplianceFeed
from consentry.snapshot.manifest import MANIFEST_NAME

router = APIRouter(prefix="/v1", tags=["licensees"])
SnapshotId = Annotated[str, PathParam(min_length=1, max_length=128)]
#: Files of a snapshot folder besides its shards that a licensee may fetch.
EXTRA_FILES: Final = ("README.md", "croissant.json")


class Ack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    through: Annotated[int, Field(ge=1, le=2**62, description="the last event id processed")]


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
    def ack() -> dict[str, Any]:
        with state.pool.ledger() as ledger:
            Meter(ledger).count_request(holder.recipient)
            feed = ComplianceFeed(ledger)
            newly = feed.ack(holder.recipient, body.through)
            return {
                "acknowledged": newly,
                "through": body.through,
                "pending": feed.pending(holder.recipient),
            }

    return await run_in_threadpool(ack)


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
