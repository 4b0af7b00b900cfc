"""``POST /v1/assistant/turns``: turns land in the content store at once, by the importers'
rules; a bad field refuses the call, named, with nothing written."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from tests.answer.conftest import assistant_key
from tests.api.conftest import Service

from consentry.content.store import ContentStore

ACCOUNT = "1100000000000000000"  # the demo platform's first account


def _turns(*texts: str, stamp: str = "x", when: datetime | None = None) -> dict[str, Any]:
    at = (when or datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    kinds = ["assistant_prompt", "assistant_response"]
    return {
        "account_id": ACCOUNT,
        "conversation_id": f"conv-{stamp}",
        "turns": [
            {"content_id": f"turn-{stamp}-{i}", "kind": kinds[i % 2], "text": t, "created_at": at}
            for i, t in enumerate(texts)
        ],
    }


def _stored(service: Service, ids: list[str]) -> pa.Table:
    store = ContentStore(service.ws.content_dir)
    table = pa.Table.from_batches(
        list(store.scan(["content_id", "author_id", "kind", "visibility", "conversation_id"]))
    )
    return table.filter(pc.is_in(table["content_id"], value_set=pa.array(ids)))


def test_turns_are_stored_at_once_and_answered_by_scope(answering: Service) -> None:
    key = assistant_key(answering)
    stamp = str(time.monotonic_ns())
    body = _turns("what is on in Lyon tonight?", "A jazz concert at 8 pm.", stamp=stamp)
    r = answering.client.post("/v1/assistant/turns", json=body, headers=key)
    assert r.status_code == 201, r.text
    ids = r.json()["content_ids"]
    stored = _stored(answering, ids).sort_by("content_id").to_pylist()
    assert [s["kind"] for s in stored] == ["assistant_prompt", "assistant_response"]
    assert {s["author_id"] for s in stored} == {ACCOUNT}
    assert {s["conversation_id"] for s in stored} == {f"conv-{stamp}"}
    # The answer index merges the import within a second or so; the owner never decided
    # `answer`, and the policy is opt-in.
    deadline = time.monotonic() + 5
    while True:
        r = answering.client.post(
            "/v1/answer/eligible", json={"content_ids": ids, "purpose": "answer"}, headers=key
        )
        verdicts = r.json()["verdicts"]
        if "unknown" not in verdicts.values() or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert set(verdicts.values()) <= {"no_consent", "minor", "age_unknown"}, verdicts


def test_bad_turns_are_refused_with_the_field_named(answering: Service) -> None:
    key = assistant_key(answering)
    future = datetime.now(UTC) + timedelta(days=30)
    for body, field in (
        (_turns(""), "text"),
        ({**_turns("hi"), "account_id": ""}, "account_id"),
        (
            {**_turns("hi"), "turns": [{**_turns("hi")["turns"][0], "kind": "post"}]},
            "kind",
        ),
        (_turns("hi", when=future, stamp=f"future-{time.monotonic_ns()}"), "created_at"),
        ({**_turns("hi", stamp="nobody"), "account_id": "no-such-account"}, "account_id"),
        ({**_turns("hi"), "turns": []}, "turns"),
    ):
        r = answering.client.post("/v1/assistant/turns", json=body, headers=key)
        assert r.status_code == 422, (field, r.text)
        assert field in r.text, (field, r.text)
    assert len(_stored(answering, ["turn-nobody-0"])) == 0
    licensee = {"Authorization": f"Bearer {answering.licensee_key('acme-ai')}"}
    r = answering.client.post("/v1/assistant/turns", json=_turns("hi"), headers=licensee)
    assert r.status_code == 403
