"""The privacy center in a real browser: signed in by the platform's link, every page passes
axe's WCAG 2.2 AA rules at a phone's and a desktop's width, in English and in French, and one
click records one choice that the ledger holds at the receipt's entry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from .harness import WIDTHS, ConsentryServer, Pages, check_accessibility, follow, screenshot

if TYPE_CHECKING:  # Playwright is imported only where the browser fixture found it
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def signed_in(page: Page, server: ConsentryServer, account: str) -> Page:
    """``page`` after following the sign-in link the platform gives ``account``."""
    page.goto(f"{server.url}/privacy?token={server.token(account)}")
    return page


PAGES = ("/privacy", "/privacy/recipients", "/privacy/whereis", "/privacy/rights")


@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_every_page_is_accessible_at_both_widths(
    pages: Pages, sqlite_server: ConsentryServer, locale: str
) -> None:
    account = sqlite_server.accounts[1]
    page = signed_in(pages(locale=locale), sqlite_server, account)
    assert "token=" not in page.url  # exchanged for a session cookie, then redirected
    assert page.get_attribute("html", "lang") == locale[:2]
    for path in PAGES:
        page.goto(f"{sqlite_server.url}{path}")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            screenshot(page, f"privacy{path.replace('/', '-')}-{locale}", width)
            check_accessibility(page)


def test_one_click_records_one_choice_shown_on_its_receipt(
    pages: Pages, consentry_server: ConsentryServer
) -> None:
    account = consentry_server.accounts[2]
    page = signed_in(pages(locale="en-GB"), consentry_server, account)
    with consentry_server.ws.ledger() as ledger:
        before = ledger.head().seq
    follow(page, "#choice-train-posts-grant")
    row = page.locator("#receipt-entries tr[data-seq]").first
    seq, digest = int(row.get_attribute("data-seq") or "0"), row.get_attribute("data-hash")
    assert seq > before
    with consentry_server.ws.ledger() as ledger:
        entry = next(e for e in ledger.account_history(account) if e.seq == seq)
        assert (entry.hash, entry.purpose, entry.decision) == (digest, "train", "grant")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        screenshot(page, f"privacy-receipt-{consentry_server.backend}", width)
        check_accessibility(page)


def test_a_choice_by_keyboard_alone(pages: Pages, consentry_server: ConsentryServer) -> None:
    account = consentry_server.accounts[3]
    page = signed_in(pages(locale="en-GB"), consentry_server, account)
    target = "choice-train-posts-deny"
    for _ in range(200):  # Tab through the page until the button has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == target:
            break
    else:
        pytest.fail(f"#{target} never took the keyboard focus")
    page.keyboard.press("Enter")
    page.wait_for_selector("#receipt-entries")
    check_accessibility(page)
    with consentry_server.ws.ledger() as ledger:
        last = ledger.account_history(account)[-1]
    assert (last.purpose, last.decision, last.source) == ("train", "deny", "web")


def test_a_choice_without_javascript(pages: Pages, sqlite_server: ConsentryServer) -> None:
    account = sqlite_server.accounts[6]
    page = signed_in(pages(locale="en-GB", java_script_enabled=False), sqlite_server, account)
    follow(page, "#choice-fine_tune-posts-grant")  # a plain form POST: no script on the page
    page.wait_for_selector("#receipt-entries", timeout=10_000)
    with sqlite_server.ws.ledger() as ledger:
        last = ledger.account_history(account)[-1]
    assert (last.purpose, last.decision, last.source) == ("fine_tune", "grant", "web")


def test_gpc_is_honoured_and_said(pages: Pages, sqlite_server: ConsentryServer) -> None:
    account = sqlite_server.accounts[4]
    page = signed_in(
        pages(locale="en-GB", extra_http_headers={"Sec-GPC": "1"}), sqlite_server, account
    )
    notice = page.locator("#gpc-notice")
    assert "Global Privacy Control" in notice.inner_text()
    check_accessibility(page)
    with sqlite_server.ws.ledger() as ledger:
        shares = [e for e in ledger.account_history(account) if e.purpose == "share"]
    assert [(e.decision, e.source) for e in shares] == [("deny", "gpc")]


def test_erasure_from_the_page_with_its_confirmation(
    pages: Pages, consentry_server: ConsentryServer
) -> None:
    server = consentry_server
    account = server.accounts[5]
    page = signed_in(pages(locale="en-GB"), server, account)
    follow(page, "#nav-rights")
    follow(page, "#erase-start")
    check_accessibility(page)  # the confirmation step
    follow(page, "#erase-confirm")
    page.goto(f"{server.url}/privacy/rights")
    assert page.locator("#erased-done").is_visible()
    check_accessibility(page)
    with page.expect_download() as caught:  # the certificate, downloadable afterwards
        page.click("#certificate-download")
    certificate = json.loads(caught.value.path().read_text("utf-8"))
    with server.ws.ledger() as ledger:
        erased = ledger.entry(int(certificate["ledger"]["erasure_entry"]))
    assert erased.account_id == account
    page.goto(f"{server.url}/privacy")
    assert page.locator("#erased-notice").is_visible()
    assert page.locator("#choice-train-posts-grant").count() == 0  # no form for an erased account
