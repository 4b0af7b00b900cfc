"""People's endpoints against a real server, on SQLite and PostgreSQL: read and change their own
consent, GPC, and every way a request can fail to be a person's."""

from __future__ import annotations

import time

from consentry.api import tokens
from consentry.model import Source

from .conftest import Service, new_account

PROBLEM = "application/problem+json"


def _choices(body: dict[str, object]) -> dict[tuple[str, str], dict[str, object]]:
    rows = body["choices"]
    assert isinstance(rows, list)
    return {(r["purpose"], r["scope"]): r for r in rows}


def test_defaults_are_shown_as_defaults(service: Service) -> None:
    account = new_account()
    r = service.client.get("/v1/me/consent", headers=service.person(account))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["account_id"] == account
    choices = _choices(body)
    policy = service.ws.policy()
    assert len(choices) == len(policy.purposes) * len(policy.scopes)
    for (purpose, _scope), row in choices.items():
        assert row["default"] is True and row["entry"] is None
        assert row["decision"] == policy.default_for(None, purpose).value
    assert body["gpc"] == {"signal": False, "recorded": False, "entry": None}


def test_put_records_one_entry_from_the_api_effective_at_once(service: Service) -> None:
    account = new_account()
    headers = service.person(account)
    r = service.client.put(
        "/v1/me/consent/train", json={"decision": "grant", "scope": "posts"}, headers=headers
    )
    assert r.status_code == 200, r.text
    entry = r.json()["entry"]
    with service.ws.ledger() as ledger:
        history = ledger.account_history(account)
    assert [(e.seq, e.purpose, e.decision, e.scope, e.source) for e in history] == [
        (entry, "train", "grant", "posts", Source.API.value)
    ]
    choices = _choices(service.client.get("/v1/me/consent", headers=headers).json())
    assert choices[("train", "posts")]["decision"] == "grant"
    assert choices[("train", "posts")]["default"] is False
    assert choices[("train", "posts")]["entry"] == entry
    assert choices[("train", "assistant")]["default"] is True
    # Withdrawal: the later decision wins at once.
    service.client.put("/v1/me/consent/train", json={"decision": "deny"}, headers=headers)
    choices = _choices(service.client.get("/v1/me/consent", headers=headers).json())
    assert {choices[("train", s)]["decision"] for s in ("posts", "interactions")} == {"deny"}


def test_a_person_only_reaches_their_own_account(service: Service) -> None:
    alice, bob = new_account(), new_account()
    service.client.put(
        "/v1/me/consent/answer", json={"decision": "grant"}, headers=service.person(alice)
    )
    bob_view = service.client.get("/v1/me/consent", headers=service.person(bob)).json()
    assert bob_view["account_id"] == bob
    assert all(row["default"] for row in _choices(bob_view).values())
    with service.ws.ledger() as ledger:
        assert ledger.account_history(bob) == []


def test_bad_bodies_and_purposes_are_problems(service: Service) -> None:
    headers = service.person(new_account())
    cases = [
        ("train", {"decision": "grant", "justification": "because"}, 422),
        ("train", {"decision": "maybe"}, 422),
        ("train", {"decision": "grant", "scope": "everything"}, 422),
        ("train", {"decision": "grant", "recipient": "acme"}, 422),
        ("astrology", {"decision": "grant"}, 404),
    ]
    for purpose, body, status in cases:
        r = service.client.put(f"/v1/me/consent/{purpose}", json=body, headers=headers)
        assert r.status_code == status, (purpose, body, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["status"] == status and r.json()["title"]
    r = service.client.put(
        "/v1/me/consent/train",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


def test_requests_that_are_not_a_persons_are_refused(service: Service) -> None:
    account = new_account()
    key = tokens.signing_key(service.ws)
    expired = tokens.mint(key, account, ttl=1, now=time.time() - 3600)
    forged = tokens.mint(b"x" * 32, account)
    cases = {
        "no token": ({}, 401),
        "malformed": ({"Authorization": "Bearer not-a-token"}, 401),
        "expired": ({"Authorization": f"Bearer {expired}"}, 401),
        "other key": ({"Authorization": f"Bearer {forged}"}, 401),
        "basic auth": ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        "admin key": (service.admin(), 403),
        "licensee key": ({"Authorization": f"Bearer {service.licensee_key('acme')}"}, 403),
    }
    for name, (headers, status) in cases.items():
        for method, path in (("GET", "/v1/me/consent"), ("PUT", "/v1/me/consent/train")):
            r = service.client.request(method, path, headers=headers, json={"decision": "grant"})
            assert r.status_code == status, (name, method, r.text)
            assert r.headers["content-type"] == PROBLEM
            if status == 401:
                assert r.headers["www-authenticate"].startswith("Bearer")
    with service.ws.ledger() as ledger:
        assert ledger.account_history(account) == []


def test_gpc_records_a_share_deny_once_when_undecided(service: Service) -> None:
    account = new_account()
    headers = {**service.person(account), "Sec-GPC": "1"}
    r = service.client.get("/v1/me/consent", headers=headers)
    assert r.status_code == 200
    assert r.headers["consentry-gpc"] == "recorded"
    gpc = r.json()["gpc"]
    assert gpc["signal"] and gpc["recorded"] and gpc["entry"]
    share = _choices(r.json())[("share", "posts")]
    assert share["decision"] == "deny" and share["default"] is False
    # The signal again: the account now has a choice, nothing more is recorded.
    again = service.client.get("/v1/me/consent", headers=headers)
    assert again.headers["consentry-gpc"] == "explicit-choice"
    assert again.json()["gpc"]["recorded"] is False
    with service.ws.ledger() as ledger:
        history = ledger.account_history(account)
    assert [(e.purpose, e.decision, e.source) for e in history] == [("share", "deny", "gpc")]


def test_gpc_leaves_an_explicit_share_choice_alone(service: Service) -> None:
    account = new_account()
    service.recipient("acme-ai")
    service.client.put(
        "/v1/me/consent/share",
        json={"decision": "grant", "recipient": "acme-ai"},
        headers=service.person(account),
    )
    r = service.client.get("/v1/me/consent", headers={**service.person(account), "Sec-GPC": "1"})
    assert r.headers["consentry-gpc"] == "explicit-choice"
    assert r.json()["gpc"]["recorded"] is False
    # Without the signal: nothing said, nothing recorded.
    other = new_account()
    r = service.client.get("/v1/me/consent", headers={**service.person(other), "Sec-GPC": "0"})
    assert "consentry-gpc" not in r.headers
    with service.ws.ledger() as ledger:
        assert [e.source for e in ledger.account_history(account)] == ["api"]
        assert ledger.account_history(other) == []


def test_health_and_openapi(service: Service) -> None:
    with service.ws.ledger() as ledger:
        head = ledger.head().seq
    health = service.client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "ledger_seq": head,
        "dependencies": {"ledger": "ok", "redis": "not configured"},
    }
    spec = service.client.get("/openapi.json").json()
    for path in ("/v1/me/consent", "/v1/me/consent/{purpose}", "/v1/admin/keys", "/v1/usage"):
        assert path in spec["paths"]


def test_hand_documented_routes_keep_their_contract(service: Service) -> None:
    """The consent routes parse and answer by hand (speed); the OpenAPI must still say it all."""
    spec = service.client.get("/openapi.json").json()
    get = spec["paths"]["/v1/me/consent"]["get"]
    put = spec["paths"]["/v1/me/consent/{purpose}"]["put"]
    for operation in (get, put):
        assert operation["security"] == [{"HTTPBearer": []}]
        assert {"401", "403", "422", "429"} <= set(operation["responses"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert get["parameters"][0]["name"] == "recipient"
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ConsentView"
    }
    body = put["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False and body["required"] == ["decision"]
    for ref in ("Decision", "Scope", "ConsentView", "Recorded"):
        assert ref in spec["components"]["schemas"]
    too_long = service.client.get(
        "/v1/me/consent", params={"recipient": "x" * 129}, headers=service.person(new_account())
    )
    assert too_long.status_code == 422 and too_long.headers["content-type"] == PROBLEM
    headers = service.person(new_account())
    for path, status in (
        ("/v1/me/consent/" + "t" * 33, 422),  # too long for the fast lane: FastAPI's answer
        ("/v1/me/consent/train/extra", 404),
    ):
        r = service.client.put(path, json={"decision": "grant"}, headers=headers)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == PROBLEM
