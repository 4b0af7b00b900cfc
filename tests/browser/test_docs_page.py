"""``/docs`` in a real browser: Swagger UI renders the operations from Consentry's own files,
with no request to another origin, no CSP violation and no WCAG 2.2 AA violation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from consentry.api.docs_page import ASSETS, ASSETS_PATH

from .harness import WIDTHS, ConsentryServer, Pages, check_accessibility, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_docs(page: Page, server: ConsentryServer) -> None:
    page.goto(f"{server.url}/docs")
    # An operation's summary, drawn by Swagger UI from /openapi.json: the page is not blank.
    page.get_by_text(
        "Liveness and reachability of the database and Redis", exact=True
    ).first.wait_for(state="visible", timeout=30_000)


def test_docs_render_the_operations_from_consentry_alone(
    page: Page, pages: Pages, consentry_server: ConsentryServer
) -> None:
    open_docs(page, consentry_server)
    requested = pages.guard(page).requests
    assert page.locator(".opblock").count() > 10
    assert page.get_by_text("/v1/me/consent", exact=True).first.is_visible()
    loaded = {url.removeprefix(consentry_server.url) for url in requested}
    assert {"/docs", "/openapi.json"} | {f"{ASSETS_PATH}/{name}" for name in ASSETS} <= loaded
    # The guard fails the test on any request elsewhere; it must have seen the page's own.
    assert all(url.startswith(consentry_server.url) for url in requested)


def test_an_opened_operation_passes_axe(page: Page, sqlite_server: ConsentryServer) -> None:
    open_docs(page, sqlite_server)
    page.locator("#operations-people-set_consent_v1_me_consent__purpose__put button").first.click()
    try_it = page.get_by_role("button", name="Try it out")
    try_it.wait_for()
    check_accessibility(page)
    try_it.click()
    page.get_by_role("button", name="Execute").wait_for()
    check_accessibility(page)


def test_docs_pass_axe_at_both_widths(page: Page, sqlite_server: ConsentryServer) -> None:
    open_docs(page, sqlite_server)
    for width in WIDTHS:
        path = screenshot(page, "docs", width)
        assert path.stat().st_size > 10_000
        check_accessibility(page)


def test_docs_headers_forbid_inline_script_and_sniffing(sqlite_server: ConsentryServer) -> None:
    for path in ("/docs", *(f"{ASSETS_PATH}/{name}" for name in ASSETS)):
        r = httpx.get(f"{sqlite_server.url}{path}")
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp, csp
        assert r.headers["x-content-type-options"] == "nosniff"
    page = httpx.get(f"{sqlite_server.url}/docs").text
    assert "<script>" not in page and "cdn" not in page.lower()
    # Only what the page loads is served: not the bundle's sample page (a third party's spec).
    assert httpx.get(f"{sqlite_server.url}{ASSETS_PATH}/index.html").status_code == 404
