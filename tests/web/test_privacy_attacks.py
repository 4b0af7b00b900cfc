"""What the privacy center refuses: a POST without the session's CSRF token or with another
session's, another person's receipt, an expired or forged session; and its headers and assets
on every page: no third-party URL, no inline script."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import tinycss2  # type: ignore[import-untyped]
from tests.api.conftest import Service, make_workspace, start_service
from tests.web.conftest import Person, browser
from tests.web.html import Element, parse

from consentry.web import sessions
from consentry.web.render import STATIC

PAGES = (
    "/privacy",
    "/privacy/recipients",
    "/privacy/whereis",
    "/privacy/rights",
    "/privacy/erase",
    "/privacy/signin",
)


def _history(service: Service, account: str) -> int:
    with service.ws.ledger() as ledger:
        return len(ledger.account_history(account))


def _choice_form(person: Person) -> dict[str, str]:
    fields = person.page("/privacy").by_id("choice-train-posts").form_fields()
    return {**fields, "decision": "grant"}


def test_a_post_without_the_csrf_token_is_refused(service: Service, person: Person) -> None:
    fields = _choice_form(person)
    del fields["csrf"]
    cross_site = person.client.post(
        "/privacy/choice", data=fields, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    assert parse(cross_site.text).by_id("problem").attrs["data-problem"] == "csrf"
    garbled = person.client.post("/privacy/choice", data={**fields, "csrf": "jeton-été"})
    assert garbled.status_code == 403
    for path in ("/privacy/refuse-all", "/privacy/share", "/privacy/erase", "/privacy/signout"):
        assert person.client.post(path, data={"confirm": "yes"}).status_code == 403, path
    assert _history(service, person.account) == 0


def test_another_sessions_csrf_token_is_refused(service: Service, person: Person) -> None:
    other = browser(service)
    other.sign_in()
    theirs = other.page("/privacy").by_id("choice-train-posts").form_fields()["csrf"]
    fields = {**_choice_form(person), "csrf": theirs}
    assert person.client.post("/privacy/choice", data=fields).status_code == 403
    # Even the same person's token from another session is not this session's.
    again = browser(service, person.account)
    again.sign_in()
    mine_elsewhere = again.page("/privacy").by_id("choice-train-posts").form_fields()["csrf"]
    fields["csrf"] = mine_elsewhere
    assert person.client.post("/privacy/choice", data=fields).status_code == 403
    assert _history(service, person.account) == 0


def test_a_person_never_sees_another_persons_data(service: Service, person: Person) -> None:
    victim = browser(service)
    victim.sign_in()
    form = victim.page("/privacy").by_id("choice-answer-posts")
    location = victim.submit(form, decision="grant").headers["location"]
    assert person.get(location).status_code == 404
    assert person.get(location.replace("/receipt?", "/receipt.json?")).status_code == 404
    assert victim.get(location).status_code == 200
    for path in (*PAGES, "/privacy/export.json"):
        assert victim.account not in person.get(path).text, path


def _signed(service: Service, session: sessions.Session) -> str:
    return sessions.encode(sessions.session_key(service.ws.secret()), session)


def test_an_expired_session_redirects_to_sign_in(service: Service) -> None:
    someone = browser(service)
    stale = sessions.Session("1234", int(time.time()) - 1, "s" * 22)
    someone.client.cookies.set(sessions.COOKIE, _signed(service, stale), path="/privacy")
    for path in ("/privacy", "/privacy/rights", "/privacy/receipt?first=1&last=1"):
        response = someone.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/privacy/signin?expired=1"
    assert someone.client.post("/privacy/choice", data={}).status_code == 303
    assert parse(someone.get("/privacy/signin?expired=1").text).has_id("signin-expired")


def test_a_forged_session_is_no_session(service: Service) -> None:
    someone = browser(service)
    forged = sessions.encode(b"k" * 32, sessions.Session("1234", int(time.time()) + 600, "x"))
    someone.client.cookies.set(sessions.COOKIE, forged, path="/privacy")
    assert someone.get("/privacy").status_code == 303


def test_sign_out_ends_the_session(person: Person) -> None:
    form = person.page("/privacy").by_id("signout-form")
    response = person.submit(form)
    assert response.status_code == 303
    assert person.get("/privacy").headers["location"].startswith("/privacy/signin")


def _check_headers(path: str, headers: object, *, personal: bool) -> None:
    assert hasattr(headers, "get")
    csp = headers.get("content-security-policy") or ""
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == ["'self'"], path
    assert "'unsafe-inline'" not in csp, path
    assert directives["frame-ancestors"] == ["'none'"], path
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("referrer-policy") == "no-referrer", path
    if personal:
        assert headers.get("cache-control") == "no-store", path


def test_headers_on_every_page(person: Person) -> None:
    receipt = person.submit(
        person.page("/privacy").by_id("choice-train-assistant"), decision="deny"
    )
    _check_headers("redirect", receipt.headers, personal=True)
    location = receipt.headers["location"]
    for path in (
        *PAGES,
        location,
        location.replace("/receipt?", "/receipt.json?"),
        "/privacy/export.json",
    ):
        response = person.get(path)
        assert response.status_code == 200, path
        _check_headers(path, response.headers, personal=True)
    css = person.get("/privacy/static/privacy.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    _check_headers("css", css.headers, personal=False)


def _same_origin(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return True  # not a request the page makes
    return not parts.scheme and not parts.netloc and (url.startswith(("/", "#", "?")) or not url)


def _urls(page: Element) -> list[str]:
    return [
        e.attrs[name]
        for e in page.iter()
        for name in ("src", "href", "action", "srcset", "poster", "data")
        if name in e.attrs
    ]


def test_no_external_url_and_no_inline_script(person: Person) -> None:
    for path in PAGES:
        page = parse(person.get(path).text)
        urls = _urls(page)
        assert urls, path
        assert all(_same_origin(u) for u in urls), (path, [u for u in urls if not _same_origin(u)])
        assert not page.find_all("script"), path
        assert not page.find_all("style"), path
        assert not [e for e in page.iter() if any(k.startswith("on") for k in e.attrs)], path
        assert not [e for e in page.iter() if "style" in e.attrs], path
        assert len(page.find_all("main")) == 1, path
    sheets = list(STATIC.glob("*.css"))
    assert sheets
    for sheet in sheets:
        found = _css_urls(tinycss2.parse_stylesheet(sheet.read_text("utf-8")))
        assert all(_same_origin(u) for u in found), (sheet, found)


def _css_urls(nodes: list[Any]) -> list[str]:
    """Every url(…), url("…") and @import of a parsed stylesheet, however deep."""
    found: list[str] = []
    for node in nodes:
        if isinstance(node, tinycss2.ast.URLToken):
            found.append(node.value)
        if isinstance(node, tinycss2.ast.FunctionBlock) and node.lower_name == "url":
            found.extend(a.value for a in node.arguments if hasattr(a, "value"))
        if isinstance(node, tinycss2.ast.AtRule) and node.lower_at_keyword == "import":
            found.append(tinycss2.serialize(node.prelude).strip())
        for attr in ("prelude", "content", "arguments"):
            found.extend(_css_urls(getattr(node, attr, None) or []))
    return found


def test_the_css_check_sees_urls() -> None:
    sheet = '@import "https://cdn.example/x.css"; a { background: url(https://t.example/p.png) }'
    found = _css_urls(tinycss2.parse_stylesheet(sheet))
    assert [u for u in found if not _same_origin(u)] == [
        '"https://cdn.example/x.css"',
        "https://t.example/p.png",
    ]


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_accessible_by_structure(person: Person, path: str) -> None:
    """What can be checked without a browser: lang, one main, a skip link, headings in order,
    every control labelled."""
    page = parse(person.get(path).text)
    assert page.find_all("html")[0].attrs["lang"] in {"en", "fr"}
    assert page.find_all("a")[0].attrs["href"] == "#content"
    levels = [int(e.tag[1]) for e in page.iter() if e.tag in {"h1", "h2", "h3"}]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in pairwise(levels))
    for button in page.find_all("button"):
        assert button.text, (path, button.attrs)
        assert "id" in button.attrs, (path, button.attrs)
    for control in page.find_all("input"):
        assert control.attrs.get("type") == "hidden", (path, control.attrs)
    for form in page.find_all("form"):
        assert "id" in form.attrs, path


def test_pages_count_against_the_persons_rate_limit(tmp_path: Path) -> None:
    svc, stop = start_service(make_workspace(tmp_path / "ws", None), "sqlite", person_rate=2)
    try:
        someone = browser(svc)
        someone.sign_in()
        statuses = [someone.get("/privacy").status_code for _ in range(6)]
        assert statuses[0] == 200 and 429 in statuses
        limited = someone.get("/privacy")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert parse(limited.text).by_id("problem").attrs["data-problem"] == "rate"
        # The same bucket as the person's API calls.
        api = svc.client.get("/v1/me/consent", headers=svc.person(someone.account))
        assert api.status_code == 429
    finally:
        stop()
