"""Operators' endpoints: keys shown once and kept as digests, revocation and rotation, plans,
usage and invoices; and that no other role reaches them."""

from __future__ import annotations

import hashlib

from consentry.api.metering import Meter, current_period

from .conftest import Service, new_account

PROBLEM = "application/problem+json"


def test_key_lifecycle(service: Service) -> None:
    service.recipient("acme-ai")
    created = service.client.post(
        "/v1/admin/keys",
        json={"role": "licensee", "recipient": "acme-ai", "label": "ci"},
        headers=service.admin(),
    )
    assert created.status_code == 201, created.text
    secret, key = created.json()["secret"], created.json()["key"]
    assert secret.startswith(f"csk_{key['id']}_") and key["recipient"] == "acme-ai"
    # Shown once: the list never carries it, the database holds only its digest.
    listed = service.client.get("/v1/admin/keys", headers=service.admin())
    assert secret not in listed.text and key["id"] in listed.text
    with service.ws.ledger() as ledger:
        (stored,) = ledger.query(
            "SELECT secret_sha256 FROM api_keys WHERE key_id = ?", (key["id"],)
        )
    assert secret.split("_", 2)[2] not in str(stored)
    assert stored[0] == hashlib.sha256(secret.split("_", 2)[2].encode()).hexdigest()
    as_licensee = {"Authorization": f"Bearer {secret}"}
    assert service.client.get("/v1/usage", headers=as_licensee).status_code == 200
    # Rotation: a new secret works, the old one is refused from now on.
    rotated = service.client.post(f"/v1/admin/keys/{key['id']}/rotate", headers=service.admin())
    assert rotated.status_code == 201
    new_secret = rotated.json()["secret"]
    assert rotated.json()["key"]["replaces"] == key["id"]
    assert service.client.get("/v1/usage", headers=as_licensee).status_code == 401
    new_headers = {"Authorization": f"Bearer {new_secret}"}
    assert service.client.get("/v1/usage", headers=new_headers).status_code == 200
    new_id = rotated.json()["key"]["id"]
    revoked = service.client.post(f"/v1/admin/keys/{new_id}/revoke", headers=service.admin())
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    refused = service.client.get("/v1/usage", headers=new_headers)
    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM


def test_a_wrong_secret_for_a_real_key_id_is_refused(service: Service) -> None:
    secret = service.licensee_key("acme-ai")
    prefix, key_id, rest = secret.split("_", 2)
    tampered = f"{prefix}_{key_id}_{'A' * len(rest)}"
    r = service.client.get("/v1/usage", headers={"Authorization": f"Bearer {tampered}"})
    assert r.status_code == 401


def test_admin_endpoints_refuse_other_roles(service: Service) -> None:
    licensee = {"Authorization": f"Bearer {service.licensee_key('acme-ai')}"}
    person = service.person(new_account())
    for headers, status in (({}, 401), (licensee, 403), (person, 403)):
        for method, path, body in (
            ("GET", "/v1/admin/keys", None),
            ("POST", "/v1/admin/keys", {"role": "admin"}),
            (
                "PUT",
                "/v1/admin/plans/p",
                {
                    "monthly_price_cents": 1,
                    "included_records": 1,
                    "overage_cents_per_1000": 1,
                    "requests_per_minute": 1,
                },
            ),
            ("GET", "/v1/admin/invoices/acme-ai?month=2026-01", None),
        ):
            r = service.client.request(method, path, headers=headers, json=body)
            assert r.status_code == status, (method, path, r.text)
            assert r.headers["content-type"] == PROBLEM


def test_plans_usage_and_invoice(service: Service) -> None:
    recipient = f"r{new_account()}"
    plan = {
        "monthly_price_cents": 150_000,
        "included_records": 1_000,
        "overage_cents_per_1000": 80,
        "requests_per_minute": 600,
    }
    r = service.client.put("/v1/admin/plans/research", json=plan, headers=service.admin())
    assert r.status_code == 200 and r.json()["name"] == "research"
    assert "research" in {
        p["name"] for p in service.client.get("/v1/admin/plans", headers=service.admin()).json()
    }
    service.recipient(recipient)
    r = service.client.put(
        f"/v1/admin/recipients/{recipient}/plan", json={"plan": "research"}, headers=service.admin()
    )
    assert r.status_code == 200, r.text
    missing = service.client.put(
        f"/v1/admin/recipients/{recipient}/plan", json={"plan": "nope"}, headers=service.admin()
    )
    assert missing.status_code == 400 and missing.headers["content-type"] == PROBLEM
    with service.ws.ledger() as ledger:
        meter = Meter(ledger)
        assert meter.count_file(recipient, "snap-1", "data/part-00000.parquet", 2_000)
        assert meter.count_file(recipient, "snap-1", "data/part-00001.parquet", 500)
        # The same file again (a second download): counted once only.
        assert not meter.count_file(recipient, "snap-1", "data/part-00000.parquet", 2_000)
        meter.count_bytes(recipient, 12_345)
    month = current_period()
    bill = service.client.get(
        f"/v1/admin/invoices/{recipient}", params={"month": month}, headers=service.admin()
    ).json()
    assert bill["usage"]["records"] == 2_500 and bill["usage"]["bytes"] == 12_345
    assert bill["overage_records"] == 1_500
    assert bill["base_cents"] == 150_000 and bill["overage_cents"] == 120
    assert bill["total_cents"] == 150_120
    # The licensee's own view of the same month.
    licensee = {"Authorization": f"Bearer {service.licensee_key(recipient)}"}
    usage = service.client.get("/v1/usage", headers=licensee).json()
    assert usage["records"] == 2_500 and usage["plan"]["name"] == "research"
    assert usage["requests"] == 1  # this request, counted
    bad = service.client.get(
        f"/v1/admin/invoices/{recipient}", params={"month": "2026-13"}, headers=service.admin()
    )
    assert bad.status_code == 422


def test_a_licensee_sees_only_its_own_usage(service: Service) -> None:
    mine, theirs = f"r{new_account()}", f"r{new_account()}"
    with service.ws.ledger() as ledger:
        Meter(ledger).count_file(theirs, "s", "data/part-00000.parquet", 99)
    usage = service.client.get(
        "/v1/usage", headers={"Authorization": f"Bearer {service.licensee_key(mine)}"}
    ).json()
    assert usage["recipient"] == mine and usage["records"] == 0
