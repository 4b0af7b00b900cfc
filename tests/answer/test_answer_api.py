"""``POST /v1/answer/eligible`` and ``GET /v1/changes`` on a real server: the build's verdicts,
a withdrawal and an erasure seen within a second, and who may ask."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pyarrow as pa
from tests.answer.conftest import assistant_key
from tests.answer.oracle import batch_verdicts
from tests.api.conftest import Service

from consentry.compliance.erasure import erase
from consentry.content.store import ContentStore
from consentry.model import Reason

FRESH_S = 1.0


def _items(service: Service) -> pa.Table:
    store = ContentStore(service.ws.content_dir)
    columns = ["content_id", "author_id", "kind", "visibility", "deleted_at", "repost_of"]
    return pa.Table.from_batches(list(store.scan(columns)))


def _ask(service: Service, ids: list[str], key: dict[str, str]) -> dict[str, str]:
    r = service.client.post(
        "/v1/answer/eligible", json={"content_ids": ids, "purpose": "answer"}, headers=key
    )
    assert r.status_code == 200, r.text
    assert r.headers["server-timing"].startswith("verdicts;dur=")
    verdicts: dict[str, str] = r.json()["verdicts"]
    return verdicts


def _public_posts_of(items: pa.Table, account: str) -> list[str]:
    rows = items.to_pylist()
    return [
        r["content_id"]
        for r in rows
        if r["author_id"] == account
        and r["kind"] == "post"
        and r["visibility"] == "public"
        and r["deleted_at"] is None
    ]


def _adult_public_author(service: Service, items: pa.Table) -> str:
    """An active, adult, unprotected account with public posts: granting makes them eligible."""
    with service.ws.ledger() as ledger:
        states = ledger.account_states().to_pylist()
    for s in states:
        if (
            s["status"] == "active"
            and not s["protected"]
            and _public_posts_of(items, s["account_id"])
        ):
            born = s["birth_date"]
            if born is None or born.year < 2000:
                return str(s["account_id"])
    raise AssertionError("the demo platform has no such account")


def _until(check: object, deadline_s: float) -> float:
    """Seconds until ``check()`` holds, polling; fails past ``deadline_s``."""
    started = time.monotonic()
    while True:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        if time.monotonic() - started > deadline_s:
            raise AssertionError(f"not seen within {deadline_s} s")
        time.sleep(0.01)


def test_verdicts_equal_the_builds_for_every_item(answering: Service) -> None:
    items = _items(answering)
    ids = items["content_id"].to_pylist()
    got = _ask(answering, [*ids, "never-imported"], assistant_key(answering))
    with answering.ws.ledger() as ledger:
        truth = batch_verdicts(
            items, ledger, answering.ws.policy(), "answer", datetime.now(UTC).date()
        )
    expected = {
        i: Reason(int(r)).code if r else "eligible" for i, r in zip(ids, truth, strict=True)
    }
    assert {i: got[i] for i in ids} == expected
    assert got["never-imported"] == "unknown"
    assert len(set(expected.values())) >= 4  # the demo exercises several reason codes


def test_a_withdrawal_is_seen_within_a_second_and_fed_as_a_change(answering: Service) -> None:
    key = assistant_key(answering)
    items = _items(answering)
    account = _adult_public_author(answering, items)
    posts = _public_posts_of(items, account)
    person = answering.person(account)
    r = answering.client.put("/v1/me/consent/answer", json={"decision": "grant"}, headers=person)
    assert r.status_code == 200, r.text
    _until(lambda: set(_ask(answering, posts, key).values()) == {"eligible"}, 5)
    since = answering.client.get("/v1/changes", headers=key).json()["next"]
    r = answering.client.put("/v1/me/consent/answer", json={"decision": "deny"}, headers=person)
    assert r.status_code == 200, r.text
    took = _until(lambda: set(_ask(answering, posts, key).values()) == {"consent_denied"}, 5)
    assert took < FRESH_S
    feed = answering.client.get(f"/v1/changes?since={since}&wait=5", headers=key).json()
    mine = [c for c in feed["changes"] if c.get("account_id") == account]
    assert mine and mine[-1]["decision"] == "deny" and mine[-1]["purpose"] == "answer"
    assert feed["next"] == feed["changes"][-1]["seq"] > since


def test_an_erasure_is_seen_within_a_second(answering: Service) -> None:
    key = assistant_key(answering)
    items = _items(answering)
    account = _adult_public_author(answering, items)
    posts = _public_posts_of(items, account)
    person = answering.person(account)
    answering.client.put("/v1/me/consent/answer", json={"decision": "grant"}, headers=person)
    _until(lambda: set(_ask(answering, posts, key).values()) == {"eligible"}, 5)
    ws = answering.ws
    started = time.monotonic()
    with ws.ledger() as ledger:
        erase(
            ledger,
            ContentStore(ws.content_dir),
            ws.policy(),
            ws.secret(),
            account,
            ws.certificates_dir,
        )
    took = _until(lambda: set(_ask(answering, posts, key).values()) == {"account_deleted"}, 5)
    assert took < FRESH_S, time.monotonic() - started


def test_a_long_poll_waits_for_the_next_change(answering: Service) -> None:
    key = assistant_key(answering)
    head = answering.client.get("/v1/changes?since=0&limit=1", headers=key).json()
    assert head["changes"][0]["seq"] == 1
    latest = answering.client.get("/v1/changes?since=0", headers=key).json()
    since = latest["next"]
    while len(latest["changes"]) == 1000:
        latest = answering.client.get(f"/v1/changes?since={since}", headers=key).json()
        since = latest["next"]
    started = time.monotonic()
    empty = answering.client.get(f"/v1/changes?since={since + 10**9}&wait=0.3", headers=key)
    assert empty.status_code == 200 and empty.json()["changes"] == []
    assert time.monotonic() - started >= 0.3


def test_only_an_assistant_key_may_ask(answering: Service) -> None:
    body = {"content_ids": ["1"], "purpose": "answer"}
    licensee = {"Authorization": f"Bearer {answering.licensee_key('acme-ai')}"}
    for headers, status in (
        ({}, 401),
        (licensee, 403),
        (answering.admin(), 403),
        (answering.person("1100000000000000000"), 403),
        (assistant_key(answering), 200),
    ):
        r = answering.client.post("/v1/answer/eligible", json=body, headers=headers)
        assert r.status_code == status, (headers, r.text)
    assistant = assistant_key(answering)
    for path in ("/v1/snapshots", "/v1/usage", "/v1/me/consent", "/v1/compliance/events"):
        r = answering.client.get(path, headers=assistant)
        assert r.status_code in (403, 404), (path, r.status_code, r.text)
        assert r.status_code == 403 or path == "/v1/compliance/events"
    assert answering.client.get("/v1/changes", headers=licensee).status_code == 403


def test_bad_requests_name_the_field(answering: Service) -> None:
    key = assistant_key(answering)
    too_many = {"content_ids": [str(i) for i in range(10_001)], "purpose": "answer"}
    r = answering.client.post("/v1/answer/eligible", json=too_many, headers=key)
    assert r.status_code == 413 and "content_ids" in r.json()["detail"], r.text
    r = answering.client.post(
        "/v1/answer/eligible", json={"content_ids": ["1"], "purpose": "share"}, headers=key
    )
    assert r.status_code == 422 and "purpose" in r.json()["detail"]
    r = answering.client.post(
        "/v1/answer/eligible", json={"content_ids": [], "purpose": "answer"}, headers=key
    )
    assert r.status_code == 422 and "content_ids" in r.text
    r = answering.client.post(
        "/v1/answer/eligible", json={"content_ids": ["a\u0000b"]}, headers=key
    )
    assert r.status_code == 422 and "content_ids" in r.text
    big = {"content_ids": [str(i) for i in range(10_000)]}
    assert (
        httpx.post(f"{answering.url}/v1/answer/eligible", json=big, headers=key).status_code == 200
    )


def test_an_assistant_key_is_not_held_to_a_licensees_rate(answering: Service) -> None:
    """The platform's assistant asks once per answer: far more than a licensee's 60 a minute."""
    key = assistant_key(answering)
    body = {"content_ids": ["1"], "purpose": "answer"}
    codes = {
        answering.client.post("/v1/answer/eligible", json=body, headers=key).status_code
        for _ in range(120)
    }
    assert codes == {200}
