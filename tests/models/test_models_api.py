"""The licensees' model routes and the RSL document against a real `consentry serve`, on SQLite
and PostgreSQL: a licensee registers models only on snapshots delivered to it, two licensees
never see each other's models (or learn that they exist), exposure follows a withdrawal as the
licensee's own feed tells it, and /.well-known/rsl.xml offers the plans in RSL 1.0."""

from __future__ import annotations

import os
import signal
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tests.api.conftest import make_workspace, run_serve
from typer.testing import CliRunner

from consentry.api.keys import ApiKeys, Role
from consentry.api.plans import Plan, Plans
from consentry.cli.main import app
from consentry.models.rsl import NAMESPACE, check_rsl
from consentry.workspace import Workspace

from .conftest import snapshot_id

#: Each test builds snapshots (and the API's a server): seconds each.
pytestmark = pytest.mark.slow


@dataclass
class Shop:
    ws: Workspace
    url: str
    env: dict[str, str]
    keys: dict[str, dict[str, str]]  # recipient: its Authorization header
    snapshots: dict[str, str]  # recipient ('' internal): snapshot id
    folders: dict[str, Path]

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(app, list(args), env={**os.environ, **self.env})
        assert result.exit_code == 0, (args, result.output)
        return result.output


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shop]:
    base = tmp_path_factory.mktemp("models-api")
    db_url = None
    if request.param == "postgres":
        db_url = request.getfixturevalue("postgres_schema_factory")()
    ws = make_workspace(base / "ws", db_url)
    env = {"CONSENTRY_WORKSPACE": str(ws.root)}
    if db_url:
        env["CONSENTRY_DB"] = db_url
    shop = Shop(ws, "", env, {}, {}, {})
    shop.cli("demo", "generate", "--out", str(base / "platform"), "--posts", "300", "--seed", "7")
    shop.cli("import", "canonical", str(base / "platform"))
    for name in ("acme-ai", "other-ai", ""):
        folder = base / f"snap-{name or 'internal'}"
        if name:
            shop.cli("recipient", "add", name)
        shop.cli("snapshot", "build", "--purpose", "train", "--out", str(folder),
                 *(["--recipient", name] if name else []))  # fmt: skip
        shop.snapshots[name] = snapshot_id(folder)
        shop.folders[name] = folder
    with ws.ledger() as ledger:
        for name in ("acme-ai", "other-ai"):
            secret = ApiKeys(ledger).create(Role.LICENSEE, recipient=name).secret
            shop.keys[name] = {"Authorization": f"Bearer {secret}"}
        Plans(ledger).put(Plan("research", 49_900, 1_000_000, 50, 600))
        Plans(ledger).put(Plan("starter", 9_905, 10_000, 100, 60))
    proc, shop.url = run_serve(ws, base / "serve.log", env=env)
    yield shop
    proc.send_signal(signal.SIGINT)
    proc.wait(30)


def _post(shop: Shop, who: str, **body: Any) -> httpx.Response:
    body.setdefault("trained_at", datetime.now(UTC).isoformat())
    return httpx.post(f"{shop.url}/v1/models", json=body, headers=shop.keys[who], timeout=30)


def _get(shop: Shop, who: str, path: str) -> httpx.Response:
    return httpx.get(f"{shop.url}{path}", headers=shop.keys[who], timeout=30)


def test_a_licensee_registers_only_on_its_own_snapshots(shop: Shop) -> None:
    acme, other = shop.snapshots["acme-ai"], shop.snapshots["other-ai"]
    trained = datetime.now(UTC).isoformat()
    r = _post(shop, "acme-ai", name="llm", version="1", snapshots=[acme], trained_at=trained)
    assert r.status_code == 201, r.text
    model = r.json()
    assert (model["recipient"], model["snapshots"]) == ("acme-ai", [acme])
    again = _post(shop, "acme-ai", name="llm", version="1", snapshots=[acme], trained_at=trained)
    assert (again.status_code, again.json()["id"]) == (200, model["id"])
    assert _post(shop, "acme-ai", name="llm", version="1", snapshots=[acme]).status_code == 409
    # Another licensee's snapshot, an internal one and one that does not exist read the same.
    details = []
    for foreign in (other, shop.snapshots[""], "snap_00000000000000000000"):
        r = _post(shop, "acme-ai", name="llm", version="2", snapshots=[foreign])
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        details.append(r.json()["detail"].replace(foreign, "X"))
    assert len(set(details)) == 1
    assert _post(shop, "acme-ai", name="llm", version="3", snapshots=[]).status_code == 422
    bad = _post(shop, "acme-ai", name="llm", version="4", snapshots=[acme], trained_at="2026-01-01")
    assert bad.status_code == 422  # no offset
    assert httpx.post(f"{shop.url}/v1/models", json={}, timeout=30).status_code == 401


def test_two_licensees_never_see_each_others_models(shop: Shop) -> None:
    mine = _post(shop, "acme-ai", name="seen", version="1", snapshots=[shop.snapshots["acme-ai"]])
    theirs = _post(shop, "other-ai", name="seen", version="1",
                   snapshots=[shop.snapshots["other-ai"]])  # fmt: skip
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]  # same name and version, two holders
    for who, model, foreign in (("acme-ai", mine, theirs), ("other-ai", theirs, mine)):
        listed = _get(shop, who, "/v1/models").json()["models"]
        assert model.json()["id"] in {m["id"] for m in listed}
        assert all(m["recipient"] == who for m in listed)
        for path in ("", "/exposure"):
            hidden = _get(shop, who, f"/v1/models/{foreign.json()['id']}{path}")
            missing = _get(shop, who, f"/v1/models/m-00000000000000000000{path}")
            assert hidden.status_code == missing.status_code == 404
            assert hidden.json()["detail"].replace(foreign.json()["id"], "X") == missing.json()[
                "detail"
            ].replace("m-00000000000000000000", "X")
        assert _get(shop, who, f"/v1/models/{model.json()['id']}").json() == model.json()


def test_exposure_follows_a_withdrawal_as_the_feed_tells_it(shop: Shop) -> None:
    acme = shop.snapshots["acme-ai"]
    model = _post(shop, "acme-ai", name="exposed", version="1", snapshots=[acme]).json()
    assert _get(shop, "acme-ai", f"/v1/models/{model['id']}/exposure").json()["records"] == 0
    mapped = pq.read_table(next((shop.ws.root / "deliveries").glob(f"{acme}.parquet")))
    account = str(mapped.filter(pc.equal(mapped["tbl"], "data"))["account_id"][0])
    shop.cli("consent", "deny", account, "train")
    found = _get(shop, "acme-ai", f"/v1/models/{model['id']}/exposure").json()
    events = _get(shop, "acme-ai", "/v1/compliance/events?cursor=0&limit=10000").json()["events"]
    told = {(e["table"], e["record_id"]) for e in events if e["snapshot_id"] == acme}
    assert {(e["table"], e["record_id"]) for e in found["exposed"]} == told and told
    held = set(pq.read_table(shop.folders["acme-ai"] / "data")["record_id"].to_pylist())
    assert {e["record_id"] for e in found["exposed"] if e["table"] == "data"} <= held
    assert [g["reason"] for g in found["by_reason"]] == ["consent_denied"]
    assert found["deadline"] and not found["overdue"]
    # other-ai's model on its own snapshot saw the withdrawal too, and hears only of its own.
    theirs = _post(shop, "other-ai", name="exposed", version="1",
                   snapshots=[shop.snapshots["other-ai"]]).json()  # fmt: skip
    seen = _get(shop, "other-ai", f"/v1/models/{theirs['id']}/exposure").json()["exposed"]
    assert not {e["record_id"] for e in seen} & {r for _, r in told}  # its own pseudonyms
    retired = httpx.post(f"{shop.url}/v1/models/{model['id']}/retire",
                         headers=shop.keys["acme-ai"], timeout=30)  # fmt: skip
    assert retired.status_code == 200 and retired.json()["retired"]


def test_the_plans_as_rsl(shop: Shop) -> None:
    r = httpx.get(f"{shop.url}/.well-known/rsl.xml", timeout=30)  # public: no key
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == "application/rsl+xml"
    assert check_rsl(r.content) == []
    ns = {"rsl": NAMESPACE}
    root = ET.fromstring(r.content)
    licenses = root.findall("rsl:content/rsl:license", ns)
    assert [lic.findtext("rsl:permits[@type='usage']", namespaces=ns) for lic in licenses] == [
        "ai-train",
        "ai-train",
    ]
    amounts = [lic.find("rsl:payment/rsl:amount", ns) for lic in licenses]
    assert [(a.get("currency"), a.text) for a in amounts if a is not None] == [
        ("USD", "499.00"),
        ("USD", "99.05"),
    ]
    assert {lic.find("rsl:payment", ns).get("type") for lic in licenses} == {"subscription"}  # type: ignore[union-attr]
