"""Which decisions the service records (issue 15): an account never seen is recorded and said
so, an erased account is refused (410), a share naming an unregistered recipient is refused
(404); and a plan is only put on a registered recipient (issue 14). Nothing refused is stored."""

from __future__ import annotations

from datetime import UTC, datetime

from consentry.api.plans import Plan, Plans
from consentry.model import AccountChange, AccountStatus

from .conftest import Service, new_account

PROBLEM = "application/problem+json"


def _import_account(service: Service, account: str) -> None:
    with service.ws.ledger() as ledger:
        ledger.append([AccountChange(account, datetime(2024, 1, 1, tzinfo=UTC), {"country": "FR"})])


def _entries(service: Service, account: str) -> int:
    with service.ws.ledger() as ledger:
        return len(ledger.account_history(account))


def test_a_decision_says_whether_the_ledger_knows_the_account(service: Service) -> None:
    unknown, known = new_account(), new_account()
    _import_account(service, known)
    for account, expected in ((unknown, False), (known, True)):
        r = service.client.put(
            "/v1/me/consent/train", json={"decision": "grant"}, headers=service.person(account)
        )
        assert r.status_code == 200, r.text
        assert r.json()["account_known"] is expected
    assert _entries(service, unknown) == 1  # recorded all the same: consent may precede content


def test_an_erased_account_records_nothing(service: Service) -> None:
    account = new_account()
    _import_account(service, account)
    with service.ws.ledger() as ledger:
        ledger.append(
            [
                AccountChange(
                    account, datetime(2024, 2, 1, tzinfo=UTC), {"status": AccountStatus.ERASED}
                )
            ]
        )
    before = _entries(service, account)
    for purpose, decision in (("train", "grant"), ("share", "deny")):
        r = service.client.put(
            f"/v1/me/consent/{purpose}",
            json={"decision": decision},
            headers=service.person(account),
        )
        assert r.status_code == 410, r.text
        assert r.headers["content-type"] == PROBLEM and "erased" in r.json()["detail"]
    # Nor does a privacy signal: the read answers, and records no deny.
    r = service.client.get("/v1/me/consent", headers={**service.person(account), "Sec-GPC": "1"})
    assert r.status_code == 200 and r.json()["gpc"]["recorded"] is False
    assert _entries(service, account) == before


def test_a_share_decision_needs_a_registered_recipient(service: Service) -> None:
    account = new_account()
    name = f"r{new_account()}"
    body = {"decision": "grant", "recipient": name}
    r = service.client.put("/v1/me/consent/share", json=body, headers=service.person(account))
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == PROBLEM and name in r.json()["detail"]
    assert _entries(service, account) == 0
    service.recipient(name)
    r = service.client.put("/v1/me/consent/share", json=body, headers=service.person(account))
    assert r.status_code == 200 and r.json()["recipient"] == name


def test_a_plan_is_only_put_on_a_registered_recipient(service: Service) -> None:
    name = f"r{new_account()}"
    with service.ws.ledger() as ledger:
        Plans(ledger).put(Plan("gold", 100, 10, 1, 60))
    r = service.client.put(
        f"/v1/admin/recipients/{name}/plan", json={"plan": "gold"}, headers=service.admin()
    )
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == PROBLEM and name in r.json()["detail"]
    # Registered afterwards, the recipient inherits nothing.
    service.recipient(name)
    with service.ws.ledger() as ledger:
        assert Plans(ledger).of(name) is None
        assert Plans(ledger).in_force(name, 2**62) is None
    r = service.client.put(
        f"/v1/admin/recipients/{name}/plan", json={"plan": "gold"}, headers=service.admin()
    )
    assert r.status_code == 200 and r.json()["plan"]["name"] == "gold"
