"""Hostile inputs, as a table, on SQLite and on PostgreSQL: each gets the same 4xx problem
document on both (never a 500, never a 503 that monitoring reads as an outage), and nothing is
stored. Rows are (who asks, method, path, request keywords, expected status)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from consentry.api import tokens
from consentry.api.fields import MAX_INT

from .conftest import Service, new_account

PROBLEM = "application/problem+json"
NUL = "\x00"

HOSTILE: list[tuple[str, str, str, dict[str, Any], int]] = [
    # Integers past 64 bits, in query strings and bodies.
    ("licensee", "GET", "/v1/compliance/events", {"params": {"cursor": str(MAX_INT + 1)}}, 400),
    ("licensee", "GET", "/v1/compliance/events", {"params": {"cursor": "9" * 20}}, 400),
    ("licensee", "GET", "/v1/compliance/events", {"params": {"cursor": "9" * 5000}}, 422),
    ("licensee", "GET", "/v1/compliance/events", {"params": {"limit": "9" * 5000}}, 422),
    ("licensee", "POST", "/v1/compliance/ack", {"json": {"through": 2**63}}, 422),
    (
        "licensee",
        "POST",
        "/v1/compliance/ack",
        {"content": '{"through": 1' + "0" * 5000 + "}"},
        400,
    ),
    (
        "admin",
        "PUT",
        "/v1/admin/plans/big",
        {
            "json": {
                "monthly_price_cents": 10**30,
                "included_records": 1,
                "overage_cents_per_1000": 1,
                "requests_per_minute": 1,
            }
        },
        422,
    ),
    # NUL and other control characters in ids: paths, query strings, bodies.
    ("licensee", "GET", "/v1/snapshots/s%0a1/manifest", {}, 400),
    ("licensee", "GET", "/v1/snapshots/s%001/files/README.md", {}, 400),
    ("admin", "GET", "/v1/admin/jobs/j%00", {}, 400),
    ("admin", "POST", "/v1/admin/keys/k%01/revoke", {}, 400),
    ("admin", "GET", "/v1/admin/recipients/r%00/usage", {}, 400),
    ("admin", "PUT", "/v1/admin/recipients/r%00/plan", {"json": {"plan": "gold"}}, 400),
    ("admin", "PUT", "/v1/admin/plans/p%1b", {"json": {}}, 400),
    ("person", "GET", "/v1/me/consent", {"params": {"recipient": f"acme{NUL}"}}, 400),
    ("person", "GET", "/v1/me/consent", {"params": {"recipient": "acme\x85"}}, 400),
    ("person", "PUT", "/v1/me/consent/train%00", {"json": {"decision": "grant"}}, 400),
    (
        "person",
        "PUT",
        "/v1/me/consent/share",
        {"json": {"decision": "grant", "recipient": f"acme{NUL}"}},
        422,
    ),
    (
        "person",
        "PUT",
        "/v1/me/consent/train",
        {"json": {"decision": "grant", "notice_version": f"2024{NUL}"}},
        422,
    ),
    ("admin", "POST", "/v1/admin/keys", {"json": {"role": "licensee", "recipient": NUL}}, 422),
    (
        "admin",
        "POST",
        "/v1/admin/keys",
        {"json": {"role": "admin", "label": f"ci{NUL}"}},
        422,
    ),
    ("admin", "POST", "/v1/admin/recipients", {"json": {"name": f"r{NUL}"}}, 422),
    ("admin", "POST", "/v1/admin/snapshots", {"json": {"purpose": f"train{NUL}"}}, 422),
    ("admin", "PUT", "/v1/admin/recipients/acme/plan", {"json": {"plan": f"g{NUL}"}}, 422),
    # Token subjects that are no account id: refused before anything reads or records them.
    ("sub:nul", "PUT", "/v1/me/consent/train", {"json": {"decision": "grant"}}, 401),
    ("sub:long", "PUT", "/v1/me/consent/train", {"json": {"decision": "grant"}}, 401),
    ("sub:newline", "GET", "/v1/me/consent", {}, 401),
]


def _headers(service: Service, who: str) -> dict[str, str]:
    if who == "person":
        return service.person(new_account())
    if who == "admin":
        return service.admin()
    if who == "licensee":
        return {"Authorization": f"Bearer {service.licensee_key('acme')}"}
    sub = {"sub:nul": f"10{NUL}01", "sub:long": "1" * 100_000, "sub:newline": "10\n01"}[who]
    # Signed with the workspace's key, as a platform that forgot to check would mint it.
    token = jwt.encode(
        {"sub": sub, "aud": tokens.AUDIENCE, "exp": 2**40},
        tokens.signing_key(service.ws),
        algorithm="HS256",
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("who", "method", "path", "kwargs", "status"),
    HOSTILE,
    ids=[f"{i}-{who}-{m}-{p[:40]!r}" for i, (who, m, p, _, _) in enumerate(HOSTILE)],
)
def test_hostile_input_is_a_4xx_problem_on_both_backends(
    service: Service, who: str, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    headers = _headers(service, who)
    if "content" in kwargs:
        headers["Content-Type"] = "application/json"
    with service.ws.ledger() as ledger:
        before = ledger.head().seq
    r = service.client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["status"] == status
    with service.ws.ledger() as ledger:
        assert ledger.head().seq == before  # nothing recorded
