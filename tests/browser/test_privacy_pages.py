"""The privacy center in a real browser: signed in by the platform's link, every page passes
axe's WCAG 2.2 AA rules at a phone's and a desktop's width, in English and in French, and one
click records one choice that the ledger holds at the receipt's entry."""

from __future__ import annotations

import pytest

from .harness import WIDTHS, ConsentryServer, Pages, check_accessibility, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = ("/privacy", "/privacy/recipients", "/privacy/whereis", "/privacy/rights")


@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_every_page_is_accessible_at_both_widths(
    pages: Pages, sqlite_server: ConsentryServer, locale: str
) -> None:
    account = sqlite_server.accounts[1]
    page = pages(locale=locale)
    page.goto(f"{sqlite_server.url}/privacy?token={sqlite_server.token(account)}")
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
    page = pages(locale="en-GB")
    page.goto(f"{consentry_server.url}/privacy?token={consentry_server.token(account)}")
    with consentry_server.ws.ledger() as ledger:
        before = ledger.head().seq
    page.click("#choice-train-posts-grant")
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
