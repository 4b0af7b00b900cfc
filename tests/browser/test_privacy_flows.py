"""The privacy center's remaining flows in a real browser, on SQLite and on PostgreSQL: a share
choice for one recipient and its receipt, "refuse everything", the French/English switch; and
the attacks: a cross-site POST without the CSRF token, a token in a URL kept out of the access
log, one person's data out of another's sight, an expired session. Every page axe-clean."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from consentry.compliance.recipients import Recipients
from consentry.ledger.entries import EntryKind
from consentry.web import sessions

from .harness import WIDTHS, ConsentryServer, Pages, check_accessibility, follow, screenshot
from .test_privacy_pages import signed_in

if TYPE_CHECKING:  # Playwright is imported only where the browser fixture found it
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Demo accounts 1-7 (of 20) belong to test_privacy_pages; these are this module's.
SHARE, REFUSE, LANGS, ATTACKED, VICTIM, INTRUDER, LOGGED, EXPIRED = range(8, 16)


def _consents(server: ConsentryServer, account: int) -> list[tuple[str, str, str | None, str]]:
    """The consent entries of demo account number ``account``, in ledger order:
    (purpose, decision, recipient, source)."""
    with server.ws.ledger() as ledger:
        history = ledger.account_history(server.accounts[account])
    return [
        (e.purpose or "", e.decision or "", e.recipient, str(e.source))
        for e in history
        if e.kind is EntryKind.CONSENT
    ]


def _recipient(server: ConsentryServer, name: str) -> None:
    with server.ws.ledger() as ledger:
        found = Recipients(ledger)
        if found.find(name) is None:
            found.add(name, contact=f"privacy@{name}.example")


def test_a_share_choice_for_one_recipient_and_its_receipt(
    pages: Pages, consentry_server: ConsentryServer
) -> None:
    server = consentry_server
    _recipient(server, "lab-one")
    page = signed_in(pages(locale="en-GB"), server, server.accounts[SHARE])
    follow(page, "#nav-recipients")
    section = page.locator("#recipient-lab-one")
    assert "privacy@lab-one.example" in section.inner_text()
    for width in WIDTHS:
        screenshot(page, f"privacy-recipients-{server.backend}", width)
        check_accessibility(page)
    follow(page, "#share-lab-one-grant")
    row = page.locator("#receipt-entries tr[data-seq]")
    assert row.count() == 1
    assert "lab-one" in row.inner_text()
    seq, digest = int(row.get_attribute("data-seq") or "0"), row.get_attribute("data-hash")
    check_accessibility(page)
    with server.ws.ledger() as ledger:
        entry = ledger.entry(seq)
    assert (entry.account_id, entry.purpose, entry.recipient, entry.decision, entry.hash) == (
        server.accounts[SHARE],
        "share",
        "lab-one",
        "grant",
        digest,
    )
    # The receipt downloads as JSON holding the same entry.
    with page.expect_download() as caught:
        page.click("#receipt-download")
    text = caught.value.path().read_text("utf-8")
    assert f'"seq": {seq}' in text and str(digest) in text
    page.goto(f"{server.url}/privacy/recipients")
    states = page.locator("#recipient-lab-one .share-status li")
    assert states.count() > 0
    assert {states.nth(i).get_attribute("data-decision") for i in range(states.count())} == {
        "grant"
    }
    assert "None" not in section.inner_text()  # a change says when, never a missing source
    check_accessibility(page)


def test_refuse_everything_in_one_click(pages: Pages, consentry_server: ConsentryServer) -> None:
    server = consentry_server
    page = signed_in(pages(locale="en-GB"), server, server.accounts[REFUSE])
    follow(page, "#choice-train-posts-grant")
    follow(page, "#receipt-back")
    follow(page, "#refuse-all")
    rows = page.locator("#receipt-entries tr[data-seq]")
    with server.ws.ledger() as ledger:
        purposes = list(server.ws.policy().purposes)
        assert ledger.head().seq >= int(rows.last.get_attribute("data-seq") or "0")
    assert rows.count() == len(purposes)
    check_accessibility(page)
    assert _consents(server, REFUSE)[-len(purposes) :] == [
        (p, "deny", None, "web") for p in purposes
    ]
    follow(page, "#receipt-back")
    current = page.locator(".choice .current")
    assert {current.nth(i).get_attribute("data-decision") for i in range(current.count())} == {
        "deny"
    }
    check_accessibility(page)


def test_the_language_switch_both_ways(pages: Pages, consentry_server: ConsentryServer) -> None:
    server = consentry_server
    page = signed_in(pages(locale="en-GB"), server, server.accounts[LANGS])
    follow(page, "#nav-rights")
    assert page.get_attribute("html", "lang") == "en"
    english = page.locator("h1").inner_text()
    follow(page, "#lang-fr")
    assert page.url.endswith("/privacy/rights")  # the same page, now in French
    assert page.get_attribute("html", "lang") == "fr"
    assert page.locator("h1").inner_text() == "Mes données et mes droits" != english
    check_accessibility(page)
    follow(page, "#nav-choices")  # the choice sticks from page to page
    assert page.locator("#refuse-all").inner_text() == "Tout refuser"
    check_accessibility(page)
    follow(page, "#lang-en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("#refuse-all").inner_text() == "Refuse everything"


def test_a_cross_site_post_without_the_csrf_token_is_refused(
    pages: Pages, consentry_server: ConsentryServer
) -> None:
    server = consentry_server
    page = signed_in(pages(locale="en-GB"), server, server.accounts[ATTACKED])
    before = _consents(server, ATTACKED)
    # Another site's page, in the same browser as the signed-in person, posting a choice.
    page.set_content(
        f'<form id="evil" method="post" action="{server.url}/privacy/choice">'
        '<input type="hidden" name="purpose" value="train">'
        '<input type="hidden" name="scope" value="posts">'
        '<button id="go" name="decision" value="grant">win a prize</button></form>'
    )
    follow(page, "#go")
    page.wait_for_load_state()
    assert "/privacy/receipt" not in page.url
    assert page.locator("#receipt-entries").count() == 0
    # Even with the session's cookie (a same-site request), no token, no change.
    answer = page.request.post(
        f"{server.url}/privacy/choice",
        form={"purpose": "train", "scope": "posts", "decision": "grant"},
        max_redirects=0,
    )
    assert answer.status == 403
    page.set_content(answer.text())
    assert page.locator("#problem").get_attribute("data-problem") == "csrf"
    assert _consents(server, ATTACKED) == before
    page.goto(f"{server.url}/privacy")  # still signed in, still nothing changed
    assert page.locator("#choice-train-posts-current").get_attribute("data-decision") == "deny"


def test_a_sign_in_token_never_reaches_the_access_log(
    pages: Pages, consentry_server: ConsentryServer
) -> None:
    server = consentry_server
    token = server.token(server.accounts[LOGGED])
    page = pages(locale="en-GB")
    page.goto(f"{server.url}/privacy?token={token}")
    assert page.url == f"{server.url}/privacy"
    page.goto(f"{server.url}/privacy?token={token}&again=1")  # a second, reloaded link
    log = server.ws.root.parent / "serve.log"  # where the fixture sends the server's output
    deadline = time.monotonic() + 10
    while '"/privacy"' not in log.read_text("utf-8") and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text("utf-8")
    assert '"/privacy"' in text  # the visits are logged, by their path
    assert token not in text
    assert token.split(".")[2] not in text  # not even the signature alone


def test_a_person_never_sees_another_persons_data(
    pages: Pages, consentry_server: ConsentryServer
) -> None:
    server = consentry_server
    victim_id, intruder_id = server.accounts[VICTIM], server.accounts[INTRUDER]
    victim = signed_in(pages(locale="en-GB"), server, victim_id)
    follow(victim, "#choice-answer-posts-grant")
    receipt = victim.url
    intruder = signed_in(pages(locale="en-GB"), server, intruder_id)
    intruder.goto(receipt)
    assert intruder.locator("#problem").get_attribute("data-problem") == "not-yours"
    assert intruder.locator("#receipt-entries").count() == 0
    check_accessibility(intruder)
    for path in ("/privacy", "/privacy/recipients", "/privacy/whereis", "/privacy/rights"):
        intruder.goto(f"{server.url}{path}")
        assert victim_id not in intruder.content(), path
    intruder.goto(f"{server.url}/privacy")
    answer = intruder.locator("#choice-answer-posts-current")
    assert answer.get_attribute("data-decision") == "deny"  # the victim's grant is not theirs
    victim.goto(f"{server.url}/privacy")  # both sessions live side by side
    assert victim.locator("#choice-answer-posts-current").get_attribute("data-decision") == (
        "grant"
    )


def _expired_cookie(server: ConsentryServer, page: Page, account: str) -> None:
    key = sessions.session_key(server.ws.secret())
    ended = sessions.new_session(account, 1, now=time.time() - 3600)
    page.context.add_cookies(
        [{"name": sessions.COOKIE, "value": sessions.encode(key, ended), "url": server.url}]
    )


def test_an_expired_session_goes_to_sign_in(
    pages: Pages, consentry_server: ConsentryServer
) -> None:
    server = consentry_server
    page = pages(locale="en-GB")
    _expired_cookie(server, page, server.accounts[EXPIRED])
    for path in ("/privacy", "/privacy/rights"):
        page.goto(f"{server.url}{path}")
        assert page.url == f"{server.url}/privacy/signin?expired=1", path
        assert page.locator("#signin-expired").is_visible()
        assert page.locator("#nav-choices").count() == 0  # nothing of the account shown
    for width in WIDTHS:
        screenshot(page, f"privacy-signin-expired-{server.backend}", width)
        check_accessibility(page)
    before = _consents(server, EXPIRED)
    answer = page.request.post(
        f"{server.url}/privacy/refuse-all", form={"csrf": "x"}, max_redirects=0
    )
    assert answer.status == 303
    assert answer.headers["location"] == "/privacy/signin?expired=1"
    assert _consents(server, EXPIRED) == before
