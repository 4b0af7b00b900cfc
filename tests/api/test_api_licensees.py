"""Licensees and the compliance module through the API, on SQLite and PostgreSQL: a snapshot
built as an admin job, listed and downloaded (whole and resumed with Range) by its recipient
only, metered once per record; deletion events after a withdrawal, acknowledged; and the
person's whereis/export telling the same story."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from consentry.api import jobs
from consentry.cli.main import app
from consentry.compliance.deliveries import Deliveries
from consentry.snapshot.manifest import MANIFEST_NAME

from .conftest import Service, make_workspace, start_service

PROBLEM = "application/problem+json"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A workspace with a small demo platform imported, two recipients, and a running server."""
    base = tmp_path_factory.mktemp("licensees")
    db_url = None
    if request.param == "postgres":
        db_url = request.getfixturevalue("postgres_schema_factory")()
    ws = make_workspace(base / "ws", db_url)
    env = {"CONSENTRY_WORKSPACE": str(ws.root)}
    if db_url:
        env["CONSENTRY_DB"] = db_url
    runner = CliRunner()
    for args in (
        ["demo", "generate", "--out", str(base / "platform"), "--posts", "300", "--seed", "7"],
        ["import", "canonical", str(base / "platform")],
        ["recipient", "add", "acme-ai"],
        ["recipient", "add", "other-ai"],
    ):
        result = runner.invoke(app, args, env={**os.environ, **env})
        assert result.exit_code == 0, (args, result.output)
    svc, stop = start_service(ws, request.param)
    yield svc
    stop()


def _wait(service: Service, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = service.client.get(f"/v1/admin/jobs/{job_id}", headers=service.admin()).json()
        if job["status"] in ("done", "failed"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def delivered(shop: Service) -> dict[str, Any]:
    """Build a snapshot for acme-ai through the admin API; its job, once done."""
    r = shop.client.post(
        "/v1/admin/snapshots",
        json={"purpose": "train", "recipient": "acme-ai"},
        headers=shop.admin(),
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    job = _wait(shop, r.json()["id"])
    assert job["status"] == "done", job
    assert job["result"]["records"] > 0
    return job


def _key(shop: Service, recipient: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.licensee_key(recipient)}"}


def test_builds_refuse_unknown_purposes_and_recipients(shop: Service) -> None:
    for body, status in (
        ({"purpose": "astrology"}, 400),
        ({"purpose": "train", "recipient": "nobody"}, 404),  # no such recipient
    ):
        r = shop.client.post("/v1/admin/snapshots", json=body, headers=shop.admin())
        assert r.status_code == status and r.headers["content-type"] == PROBLEM
    assert shop.client.get("/v1/admin/jobs/nope", headers=shop.admin()).status_code == 404


def test_only_the_recipient_sees_its_snapshot(shop: Service, delivered: dict[str, Any]) -> None:
    snapshot_id = delivered["result"]["snapshot_id"]
    mine = shop.client.get("/v1/snapshots", headers=_key(shop, "acme-ai")).json()
    assert [s["snapshot_id"] for s in mine["snapshots"]] == [snapshot_id]
    assert "path" not in mine["snapshots"][0]
    theirs = _key(shop, "other-ai")
    assert shop.client.get("/v1/snapshots", headers=theirs).json()["snapshots"] == []
    for path in ("manifest", "files/data/part-00000.parquet"):
        r = shop.client.get(f"/v1/snapshots/{snapshot_id}/{path}", headers=theirs)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert shop.client.get(f"/v1/snapshots/{snapshot_id}/{path}").status_code == 401
        r = shop.client.get(f"/v1/snapshots/{snapshot_id}/{path}", headers=shop.admin())
        assert r.status_code == 403
        person = shop.person("1001")
        assert (
            shop.client.get(f"/v1/snapshots/{snapshot_id}/{path}", headers=person).status_code
            == 403
        )


def test_download_whole_and_resumed_metered_once(shop: Service, delivered: dict[str, Any]) -> None:
    snapshot_id = delivered["result"]["snapshot_id"]
    recipient = "acme-ai"
    headers = _key(shop, recipient)
    before = shop.client.get("/v1/usage", headers=headers).json()
    manifest = shop.client.get(f"/v1/snapshots/{snapshot_id}/manifest", headers=headers).json()
    shard = manifest["shards"][0]
    url = f"/v1/snapshots/{snapshot_id}/files/{shard['path']}"
    whole = shop.client.get(url, headers=headers)
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).hexdigest() == shard["sha256"]
    assert whole.headers["x-checksum-sha256"] == shard["sha256"]
    assert whole.headers["etag"] == f'"{shard["sha256"]}"'
    assert whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    # Interrupted after 100 bytes, resumed from there.
    first = shop.client.get(url, headers={**headers, "Range": "bytes=0-99"})
    assert first.status_code == 206 and len(first.content) == 100
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    rest = shop.client.get(
        url, headers={**headers, "Range": "bytes=100-", "If-Range": whole.headers["etag"]}
    )
    assert rest.status_code == 206
    assert first.content + rest.content == whole.content
    tail = shop.client.get(url, headers={**headers, "Range": "bytes=-10"})
    assert tail.content == whole.content[-10:]
    stale = shop.client.get(url, headers={**headers, "Range": "bytes=100-", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == whole.content
    bad = shop.client.get(url, headers={**headers, "Range": f"bytes={size}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{size}"
    for name in ("../manifest.json", "data/../../secret", "nothing.parquet"):
        r = shop.client.get(f"/v1/snapshots/{snapshot_id}/files/{name}", headers=headers)
        assert r.status_code == 404, name
    card = shop.client.get(f"/v1/snapshots/{snapshot_id}/files/README.md", headers=headers)
    assert card.status_code == 200 and card.text.startswith("---")
    after = shop.client.get("/v1/usage", headers=headers).json()
    # The shard's records count once, though its last byte went out four times.
    assert after["records"] - before["records"] == shard["rows"]
    sent = 2 * size + 100 + (size - 100) + 10 + len(card.content)
    assert after["bytes"] - before["bytes"] == sent
    assert after["requests"] - before["requests"] == 10  # each licensee request, this one too


def test_withdrawal_reaches_the_recipient_as_events(
    shop: Service, delivered: dict[str, Any]
) -> None:
    with shop.ws.ledger() as ledger:
        rows = ledger.query("SELECT account_id FROM delivered_accounts ORDER BY account_id")
    account = str(rows[0][0])
    person = shop.person(account)
    where = shop.client.get("/v1/me/whereis", headers=person).json()
    held = [s for s in where["snapshots"] if s["recipient"] == "acme-ai"]
    assert held and held[0]["records"] > 0
    r = shop.client.put("/v1/me/consent/train", json={"decision": "deny"}, headers=person)
    assert r.status_code == 200
    acme = _key(shop, "acme-ai")
    page = shop.client.get("/v1/compliance/events", headers=acme).json()
    assert page["events"] and all(e["reason"] for e in page["events"])
    assert int(page["next_cursor"]) == page["events"][-1]["event_id"]
    again = shop.client.get(
        "/v1/compliance/events", params={"cursor": page["next_cursor"]}, headers=acme
    ).json()
    assert again["events"] == []
    # Another recipient sees none of acme's events.
    other = shop.client.get("/v1/compliance/events", headers=_key(shop, "other-ai")).json()
    assert other["events"] == []
    last = page["events"][-1]["event_id"]
    acked = shop.client.post("/v1/compliance/ack", json={"through": last}, headers=acme).json()
    assert acked["acknowledged"] == len(page["events"]) and acked["pending"] == 0
    too_far = shop.client.post("/v1/compliance/ack", json={"through": last + 1000}, headers=acme)
    assert too_far.status_code == 400 and too_far.headers["content-type"] == PROBLEM
    where = shop.client.get("/v1/me/whereis", headers=person).json()
    assert where["pending_events"] == 0
    held = [s for s in where["snapshots"] if s["recipient"] == "acme-ai"]
    assert held[0]["deletion_events"] == len(page["events"])
    report = shop.client.get("/v1/me/export", headers=person).json()
    assert report["account_id"] == account and report["known"] is True
    assert {e["event_id"] for e in report["events"]} >= {e["event_id"] for e in page["events"]}
    assert report["consent"]["history"][-1]["source"] == "api"


def test_a_job_whose_worker_died_is_resumed_by_one_worker(shop: Service) -> None:
    """A job leased by a worker that stopped beating is taken over by exactly one live worker,
    built as of the position it was accepted at, and delivered; past MAX_ATTEMPTS it fails; a
    job whose worker still beats is left alone."""
    stale_us = int((time.time() - 5) * 1e6)
    with shop.ws.ledger() as ledger:
        js = jobs.Jobs(ledger)
        params = jobs.snapshot_params(ledger, "train", "acme-ai")
        orphan = js.create("snapshot", params, owner="dead-worker")
        js.started(orphan.job_id)
        worn = js.create("snapshot", params, owner="dead-worker")
        alive = js.create("snapshot", params, owner="live-worker")
        for job_id, attempts in ((orphan.job_id, 1), (worn.job_id, jobs.MAX_ATTEMPTS)):
            ledger.execute(
                "UPDATE service_jobs SET heartbeat_us = ?, attempts = ? WHERE job_id = ?",
                (stale_us, attempts, job_id),
            )
    first = jobs.JobReaper(shop.ws, "worker-a", lease_s=2)
    second = jobs.JobReaper(shop.ws, "worker-b", lease_s=2)
    taken = first.reap() + second.reap()
    assert sorted(taken) == sorted([orphan.job_id, worn.job_id])  # each claimed once
    resumed = _wait(shop, orphan.job_id)
    assert resumed["status"] == "done" and resumed["attempts"] == 2, resumed
    assert resumed["params"]["as_of"] == params["as_of"]
    listed = shop.client.get("/v1/snapshots", headers=_key(shop, "acme-ai")).json()
    assert resumed["result"]["snapshot_id"] in {s["snapshot_id"] for s in listed["snapshots"]}
    failed = _wait(shop, worn.job_id)
    assert failed["status"] == "failed" and "interrupted" in failed["error"]
    with shop.ws.ledger() as ledger:
        assert jobs.Jobs(ledger).get(alive.job_id).status == "queued"


def _snapshot_folder(shop: Service, snapshot_id: str) -> Path:
    with shop.ws.ledger() as ledger:
        found = Deliveries(ledger).get(snapshot_id)
    assert found is not None
    return Path(found.path)


def test_only_regular_files_inside_the_snapshot_folder_are_served(
    shop: Service, delivered: dict[str, Any]
) -> None:
    """A link planted in a snapshot folder (to the workspace secret, dangling, or a folder of
    links) is answered 404 and never followed; a folder or a FIFO in a file's place too."""
    snapshot_id = delivered["result"]["snapshot_id"]
    headers = _key(shop, "acme-ai")
    folder = _snapshot_folder(shop, snapshot_id)
    shard = shop.client.get(f"/v1/snapshots/{snapshot_id}/manifest", headers=headers).json()[
        "shards"
    ][0]["path"]
    secret = shop.ws.secret_path.read_bytes()
    outside = folder.parent / f"{folder.name}.elsewhere"
    shard_folder = shard.split("/")[0]
    # (what is replaced, by what, which files are then asked for)
    plants: list[tuple[str, Callable[[Path], object], str]] = [
        ("README.md", lambda p: p.symlink_to(shop.ws.secret_path), "README.md"),
        ("croissant.json", lambda p: p.symlink_to(folder / "no-such-file"), "croissant.json"),
        (shard, lambda p: p.symlink_to(shop.ws.secret_path), shard),
        ("README.md", lambda p: p.mkdir(), "README.md"),
        ("README.md", lambda p: os.mkfifo(p), "README.md"),
        # The shard's folder replaced by a link to a copy of it: a link on the way, not at the end.
        (shard_folder, lambda p: p.symlink_to(outside, target_is_directory=True), shard),
    ]
    for name, plant, asked in plants:
        target = folder / name
        saved = target.with_name(target.name + ".saved")
        target.rename(saved)
        if name == shard_folder:
            shutil.copytree(saved, outside)
        try:
            plant(target)
            r = shop.client.get(f"/v1/snapshots/{snapshot_id}/files/{asked}", headers=headers)
            assert r.status_code == 404, (name, r.status_code, r.text)
            assert r.headers["content-type"] == PROBLEM
            assert secret not in r.content
        finally:
            if target.is_dir() and not target.is_symlink():
                target.rmdir()
            else:
                target.unlink()
            saved.rename(target)
            shutil.rmtree(outside, ignore_errors=True)
    # A planted manifest is not read either.
    manifest = folder / MANIFEST_NAME
    manifest.rename(manifest.with_name("manifest.saved"))
    try:
        manifest.symlink_to(manifest.with_name("manifest.saved"))
        r = shop.client.get(f"/v1/snapshots/{snapshot_id}/manifest", headers=headers)
        assert r.status_code == 404, r.text
    finally:
        manifest.unlink()
        manifest.with_name("manifest.saved").rename(manifest)
    r = shop.client.get(f"/v1/snapshots/{snapshot_id}/files/README.md", headers=headers)
    assert r.status_code == 200  # all restored


HOSTILE_RANGES = [
    "bytes=" + "9" * 5000 + "-",
    "bytes=0-" + "9" * 5000,
    "bytes=-" + "9" * 5000,
    f"bytes={2**63}-",
    f"bytes=0-{2**63}",
    "bytes=" + "0" * 5000 + "1-",  # a small number, spelled long: allowed
]


@pytest.mark.parametrize("range_header", HOSTILE_RANGES, ids=range(len(HOSTILE_RANGES)))
def test_range_positions_past_64_bits_are_416(
    shop: Service, delivered: dict[str, Any], range_header: str
) -> None:
    snapshot_id = delivered["result"]["snapshot_id"]
    url = f"/v1/snapshots/{snapshot_id}/files/README.md"
    r = shop.client.get(url, headers={**_key(shop, "acme-ai"), "Range": range_header})
    if range_header.endswith("1-"):
        assert r.status_code == 206 and r.headers["content-range"].startswith("bytes 1-")
    else:
        assert r.status_code == 416, r.text
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["content-range"].startswith("bytes */")
