"""The privacy center against a real service (SQLite and PostgreSQL): sign-in by token link,
choices by form POST found in the ledger at the receipt's entry, refuse everything, per-recipient
share, GPC, French and English, erasure with confirmation and certificate."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from tests.api.conftest import Service
from tests.web.conftest import Person, browser
from tests.web.html import Element, parse
from typer.testing import CliRunner

from consentry.cli.main import app
from consentry.compliance.recipients import Recipients
from consentry.model import SHARE, AccountChange, Decision, Source


def _receipt_rows(page: Element) -> list[Element]:
    return page.by_id("receipt-entries").find_all("tr")[1:]


def _click(person: Person, form_id: str, decision: str | None = None) -> Element:
    """Press a button of a form on the page that shows it; the receipt page it leads to."""
    pages = {"refuse-all-form": "/privacy", "erase-form": "/privacy/erase"}
    path = pages.get(form_id, "/privacy/recipients" if form_id.startswith("share-") else "/privacy")
    form = person.page(path).by_id(form_id)
    response = person.submit(form, **({"decision": decision} if decision else {}))
    assert response.status_code == 303, response.text
    return person.page(response.headers["location"])


def test_sign_in_exchanges_the_token_for_a_session_cookie(service: Service) -> None:
    someone = browser(service)
    response = someone.sign_in()
    assert response.headers["location"] == "/privacy"  # the token leaves the URL
    cookie = response.headers["set-cookie"]
    flags = {f.strip().split("=")[0].lower() for f in cookie.split(";")}
    assert {"httponly", "max-age", "path"} <= flags
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in flags  # plain HTTP on loopback: a Secure cookie would never return
    page = someone.page("/privacy")
    assert page.by_id("choices-title" if page.has_id("choices-title") else "content").tag == "main"
    assert page.by_id("choice-train-posts-current").attrs["data-default"] == "true"
    behind_tls = browser(service).client.get(
        "/privacy",
        params={"token": service.token(someone.account)},
        headers={"X-Forwarded-Proto": "https"},  # a TLS proxy on loopback, which uvicorn trusts
    )
    assert "secure" in {f.strip().lower() for f in behind_tls.headers["set-cookie"].split(";")}


def test_a_bad_token_is_the_sign_in_page(service: Service) -> None:
    response = browser(service).client.get("/privacy", params={"token": "not-a-jwt"})
    assert response.status_code == 401
    assert parse(response.text).has_id("signin-failed")
    assert "set-cookie" not in response.headers


def test_a_choice_changed_by_form_is_in_the_ledger_at_the_receipt(
    service: Service, person: Person
) -> None:
    receipt = _click(person, "choice-train-posts", "grant")
    rows = receipt.by_id("receipt-entries").find_all("tr")[1:]
    assert len(rows) == 1
    seq, digest = int(rows[0].attrs["data-seq"]), rows[0].attrs["data-hash"]
    with service.ws.ledger() as ledger:
        entry = ledger.entry(seq)
    assert (entry.account_id, entry.purpose, entry.decision) == (
        person.account,
        "train",
        Decision.GRANT,
    )
    assert entry.scope == "posts" and entry.hash == digest and entry.source == Source.WEB
    verify = receipt.by_id("receipt-verify").text
    assert verify.startswith("consentry ledger verify --against ")
    anchor = verify.rsplit(" ", 1)[1]
    result = CliRunner().invoke(
        app,
        ["ledger", "verify", "--against", anchor],
        env={"CONSENTRY_WORKSPACE": str(service.ws.root)},
    )
    assert result.exit_code == 0, result.output
    download = person.get(receipt.by_id("receipt-download").attrs["href"])
    assert "attachment" in download.headers["content-disposition"]
    doc = json.loads(download.text)
    assert doc["entries"][0] == {**doc["entries"][0], "seq": seq, "hash": digest}
    # Effective at once: the API sees it, and the page shows when and from where.
    api = service.client.get("/v1/me/consent", headers=service.person(person.account)).json()
    assert {"purpose": "train", "scope": "posts", "decision": "grant"}.items() <= next(
        c for c in api["choices"] if (c["purpose"], c["scope"]) == ("train", "posts")
    ).items()
    current = person.page("/privacy").by_id("choice-train-posts-current")
    assert current.attrs["data-decision"] == "grant" and current.attrs["data-default"] == "false"
    assert "this privacy center" in current.text


def test_refuse_everything_is_one_click(service: Service, person: Person) -> None:
    _click(person, "choice-answer-assistant", "grant")
    receipt = _click(person, "refuse-all-form")
    rows = receipt.by_id("receipt-entries").find_all("tr")[1:]
    purposes = service.ws.policy().purposes
    assert len(rows) == len(purposes)
    page = person.page("/privacy")
    shown = [e for e in page.find_all("p") if e.attrs.get("class") == "current"]
    assert len(shown) == len(purposes) * 3
    assert all(e.attrs["data-decision"] == "deny" for e in shown)
    assert all(e.attrs["data-default"] == "false" for e in shown)
    # Refusing is as visible as accepting: the same button style, side by side.
    grant, deny = page.by_id("choice-train-posts-grant"), page.by_id("choice-train-posts-deny")
    assert grant.attrs["class"] == deny.attrs["class"]
    assert not page.find_all("textarea")  # never a justification to write


def test_per_recipient_share(service: Service, person: Person) -> None:
    with service.ws.ledger() as ledger:
        if Recipients(ledger).find("acme-ai") is None:
            Recipients(ledger).add("acme-ai", contact="dpo@acme.example")
    page = person.page("/privacy/recipients")
    section = page.by_id("recipient-acme-ai")
    assert "dpo@acme.example" in section.text
    assert page.by_id("share-acme-ai-posts").attrs["data-decision"] == "deny"
    receipt = _click(person, "share-acme-ai", "grant")
    seq = int(receipt.by_id("receipt-entries").find_all("tr")[1].attrs["data-seq"])
    with service.ws.ledger() as ledger:
        entry = ledger.entry(seq)
    assert (entry.purpose, entry.recipient, entry.decision) == (SHARE, "acme-ai", Decision.GRANT)
    page = person.page("/privacy/recipients")
    assert page.by_id("share-acme-ai-posts").attrs["data-decision"] == "grant"
    # Only for that recipient: the general share choice is still the opt-in default.
    general = person.page("/privacy").by_id("choice-share-posts-current")
    assert general.attrs["data-default"] == "true"
    listed = service.client.get("/v1/me/recipients", headers=service.person(person.account))
    assert listed.status_code == 200
    acme = next(r for r in listed.json()["recipients"] if r["name"] == "acme-ai")
    assert acme["contact"] == "dpo@acme.example"
    assert {s["decision"] for s in acme["share"]} == {"grant"}


def test_gpc_is_honoured_and_said(service: Service, person: Person) -> None:
    page = person.page("/privacy", **{"Sec-GPC": "1"})
    notice = page.by_id("gpc-notice")
    with service.ws.ledger() as ledger:
        gpc = [e for e in ledger.account_history(person.account) if e.source == Source.GPC]
    assert len(gpc) == 1 and gpc[0].purpose == SHARE and gpc[0].decision == Decision.DENY
    assert str(gpc[0].seq) in notice.text
    again = person.page("/privacy", **{"Sec-GPC": "1"}).by_id("gpc-notice")
    assert "your own choice stands" in again.text
    with service.ws.ledger() as ledger:
        assert sum(e.source == Source.GPC for e in ledger.account_history(person.account)) == 1


def _structure(page: Element) -> list[tuple[str, str]]:
    return [(e.tag, e.attrs["id"]) for e in page.iter() if "id" in e.attrs]


def test_french_and_english(person: Person) -> None:
    english = person.page("/privacy", **{"Accept-Language": "en-GB,en;q=0.9"})
    french = person.page("/privacy", **{"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    assert english.find_all("html")[0].attrs["lang"] == "en"
    assert french.find_all("html")[0].attrs["lang"] == "fr"
    assert _structure(english) == _structure(french)  # the same page
    assert english.by_id("refuse-all").text == "Refuse everything"
    assert french.by_id("refuse-all").text == "Tout refuser"
    description = french.by_id("purpose-train").find_all("p")[0].text
    assert description == "Entraîner des modèles d'IA sur vos contenus."  # from the policy
    switch = french.by_id("lang-en").attrs["href"]
    response = person.get(switch)
    assert response.status_code == 303 and response.headers["location"] == "/privacy"
    switched = person.page("/privacy", **{"Accept-Language": "fr"})
    assert switched.find_all("html")[0].attrs["lang"] == "en"
    assert person.get("/privacy/lang/fr?next=https://evil.example/").headers["location"] == (
        "/privacy"
    )


def test_erasure_with_confirmation_and_certificate(service: Service, person: Person) -> None:
    with service.ws.ledger() as ledger:
        ledger.append([AccountChange(person.account, datetime.now(UTC), {"country": "FR"})])
    rights = person.page("/privacy/rights")
    assert rights.by_id("erase-start").attrs["href"] == "/privacy/erase"
    form = person.page("/privacy/erase").by_id("erase-form")
    unconfirmed = person.submit(form, confirm="")
    assert unconfirmed.status_code == 400
    with service.ws.ledger() as ledger:
        history = ledger.account_history(person.account)
    assert not [e for e in history if e.attrs and e.attrs.get("status") == "erased"]
    done = person.submit(form)
    assert done.status_code == 303
    rights = person.page(done.headers["location"])
    assert rights.has_id("erased-done")
    certificate = person.get(rights.by_id("certificate-download").attrs["href"])
    assert certificate.status_code == 200
    doc = json.loads(certificate.text)
    assert doc["account_id"] == person.account and doc["certificate"].startswith(
        "consentry erasure"
    )
    # An erased account records no further choice, even signed in again.
    again = browser(service, person.account)
    again.sign_in()
    page = again.page("/privacy")
    assert page.has_id("erased-notice") and not page.has_id("choice-train-posts-grant")
    csrf = page.by_id("signout-form").form_fields()["csrf"]
    with service.ws.ledger() as ledger:
        before = len(ledger.account_history(person.account))
    refused = again.client.post(
        "/privacy/choice",
        data={"csrf": csrf, "purpose": "train", "scope": "posts", "decision": "grant"},
    )
    assert refused.status_code == 410
    with service.ws.ledger() as ledger:
        assert len(ledger.account_history(person.account)) == before


@pytest.mark.parametrize("path", ["/privacy/rights", "/privacy/whereis"])
def test_history_and_whereis_pages(person: Person, path: str) -> None:
    _click(person, "choice-fine_tune-posts", "grant")
    page = person.page(path)
    if path == "/privacy/rights":
        assert len(page.by_id("history").find_all("tr")) == 2
    else:
        assert page.has_id("whereis-none")
