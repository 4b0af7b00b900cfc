"""The privacy center over a platform with content and a snapshot delivered to a recipient
(the licensee tests' workspace): where my data is, who receives it, my export, and erasure from
the page, the same truth as `consentry whereis` and `consentry export`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.api.conftest import Service
from tests.api.test_api_licensees import delivered, shop
from tests.web.conftest import browser

from consentry.compliance.whereis import where_is

__all__ = ["delivered", "shop"]


def _held_account(shop: Service, snapshot_id: str) -> str:
    with shop.ws.ledger() as ledger:
        rows = ledger.query(
            "SELECT a.account_id FROM delivered_accounts a JOIN deliveries d"
            " ON d.delivery_id = a.delivery_id WHERE d.snapshot_id = ? ORDER BY a.account_id",
            (snapshot_id,),
        )
    assert rows
    return str(rows[0][0])


@pytest.mark.slow
def test_where_my_data_is_and_its_erasure(shop: Service, delivered: dict[str, Any]) -> None:
    snapshot_id = delivered["result"]["snapshot_id"]
    account = _held_account(shop, snapshot_id)
    person = browser(shop, account)
    person.sign_in()
    with shop.ws.ledger() as ledger:
        truth = where_is(ledger, account)
    page = person.page("/privacy/whereis")
    rows = page.by_id("whereis-snapshots").find_all("tr")[1:]
    assert [r.attrs["data-snapshot"] for r in rows] == [s.snapshot_id for s in truth.snapshots]
    row = page.by_id(f"whereis-{snapshot_id}")
    cells = [c.text for c in row.find_all("td")]
    held = next(s for s in truth.snapshots if s.snapshot_id == snapshot_id)
    assert cells[2] == "acme-ai" and cells[4] == str(held.records)
    receives = person.page("/privacy/recipients").by_id("recipient-acme-ai").text
    assert "Training AI models" in receives
    export = json.loads(person.get("/privacy/export.json").text)
    assert export["account_id"] == account
    assert [s["snapshot_id"] for s in export["snapshots"]] == [snapshot_id]
    # Erasure from the page: the certificate names the snapshot, the holder is told.
    form = person.page("/privacy/erase").by_id("erase-form")
    assert person.submit(form).status_code == 303
    certificate = json.loads(person.get("/privacy/certificate.json").text)
    assert [s["snapshot_id"] for s in certificate["snapshots"]] == [snapshot_id]
    assert [r["recipient"] for r in certificate["recipients_notified"]] == ["acme-ai"]
    after = person.page("/privacy/whereis").by_id(f"whereis-{snapshot_id}")
    sent = [c.text for c in after.find_all("td")][5]
    assert int(sent) == held.records
