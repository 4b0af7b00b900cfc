"""The console over HTTP (uvicorn on loopback): an admin key signs in by a form and gets a
session; every section is on its page; a licensee's key, another workspace's admin key, a
person's session or token, a revoked key and a forged cookie are all refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import Service, start_service
from tests.report.workspace import RECIPIENT, ReportWorkspace
from tests.web.html import parse

from consentry.api.keys import ApiKeys, Role
from consentry.workspace import Workspace

pytestmark = pytest.mark.slow
SECTIONS = ("ledger", "consent", "snapshots", "recipients", "erasures", "models", "ropa")


@pytest.fixture(scope="module")
def svc(built: ReportWorkspace) -> Iterator[Service]:
    service, stop = start_service(built.ws, "sqlite")
    yield service
    stop()


def _client(svc: Service) -> httpx.Client:
    return httpx.Client(base_url=svc.url, timeout=60, follow_redirects=False)


def _sign_in(client: httpx.Client, key: str) -> httpx.Response:
    return client.post("/admin/signin", data={"key": key})


def test_admin_key_signs_in_and_sees_every_section(svc: Service) -> None:
    with _client(svc) as client:
        assert client.get("/admin").headers["location"] == "/admin/signin"
        response = _sign_in(client, svc.admin_key)
        assert response.status_code == 303 and response.headers["location"] == "/admin"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Path=/admin" in cookie and "SameSite=strict" in cookie
        page = client.get("/admin")
        assert page.status_code == 200
        assert "script-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        doc = parse(page.text)
        for section in SECTIONS:
            assert doc.has_id(section), section
        assert doc.find_all("tr", data_recipient=RECIPIENT)
        assert "http://" not in page.text.replace(svc.url, "")
        ropa = client.get("/admin/ropa")
        assert ropa.status_code == 200 and parse(ropa.text).has_id("ropa-train")
        figures = client.get("/admin/report.json").json()
        assert figures["format"] == "consentry-report/1"


def test_french_console(svc: Service) -> None:
    with _client(svc) as client:
        _sign_in(client, svc.admin_key)
        page = client.get("/admin", headers={"accept-language": "fr-FR,fr;q=0.9"})
        assert '<html lang="fr">' in page.text and "Instantanés" in page.text
        switched = client.get("/admin/lang/en", params={"next": "/admin/ropa"})
        assert switched.headers["location"] == "/admin/ropa"
        assert '<html lang="en">' in client.get("/admin/ropa").text
        evil = client.get("/admin/lang/en", params={"next": "//evil.example/"})
        assert evil.headers["location"] == "/admin"


def test_a_licensee_key_is_refused(svc: Service) -> None:
    with _client(svc) as client:
        response = _sign_in(client, svc.licensee_key(RECIPIENT))
        assert response.status_code == 403 and "set-cookie" not in response.headers
        assert "licensee" in parse(response.text).by_id("signin-failed").text
        assert client.get("/admin").status_code == 303


def test_an_admin_key_of_another_workspace_is_refused(svc: Service, tmp_path: Path) -> None:
    other = Workspace.init(tmp_path / "other")
    with other.ledger() as ledger:
        foreign = ApiKeys(ledger).create(Role.ADMIN).secret
    with _client(svc) as client:
        response = _sign_in(client, foreign)
        assert response.status_code == 401 and "set-cookie" not in response.headers
        assert client.get("/admin").status_code == 303


def test_no_page_for_a_person(svc: Service) -> None:
    with _client(svc) as client:
        token = svc.token("1100000000000000000")
        # A person's token, as a bearer or as the privacy center's sign-in link, opens nothing.
        for path in ("/admin", "/admin/ropa", "/admin/report.json"):
            assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 303
        assert client.get("/admin", params={"token": token}).status_code == 303
        client.get("/privacy", params={"token": token})
        session = client.cookies.get("consentry_session")
        assert session is not None
        # The privacy center's cookie, even moved onto the console's name, is not a session.
        assert _sign_in(client, token).status_code == 401
    with _client(svc) as forger:
        forger.cookies.set("consentry_admin", session)
        assert forger.get("/admin").headers["location"].startswith("/admin/signin")


def test_a_revoked_key_ends_its_session(svc: Service) -> None:
    with svc.ws.ledger() as ledger:
        made = ApiKeys(ledger).create(Role.ADMIN, label="revoked in test")
    with _client(svc) as client:
        assert _sign_in(client, made.secret).status_code == 303
        assert client.get("/admin").status_code == 200
        with svc.ws.ledger() as ledger:
            ApiKeys(ledger).revoke(made.key.key_id)
        assert client.get("/admin").headers["location"] == "/admin/signin?expired=1"


def test_sign_out_needs_the_sessions_csrf_token(svc: Service) -> None:
    with _client(svc) as client:
        _sign_in(client, svc.admin_key)
        assert client.post("/admin/signout", data={"csrf": "nope"}).status_code == 403
        form = parse(client.get("/admin/ropa").text).by_id("signout-form")
        done = client.post("/admin/signout", data=form.form_fields())
        assert done.headers["location"] == "/admin/signin?signed_out=1"
