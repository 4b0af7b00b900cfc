"""The harness's checks can fail: a page with a WCAG violation fails ``check_accessibility``, and
a page reaching another origin, or breaking its Content-Security-Policy, fails its guard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .conftest import ConsentryServer
from .harness import PageGuard, check_accessibility

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# RFC 5737's documentation range: an address outside this machine, never answered.
THIRD_PARTY = "http://192.0.2.1"


@pytest.fixture
def bare_page(browser: Browser) -> Iterator[Page]:
    """A page outside the ``pages`` fixture, whose guard would fail these tests by design."""
    context = browser.new_context()
    yield context.new_page()
    context.close()


def watched(page: Page, server: ConsentryServer) -> PageGuard:
    guard = PageGuard(allowed={server.url})
    guard.watch(page.context)
    return guard


def page_with(body: str) -> str:
    head = '<!doctype html><html lang="en"><head><title>t</title></head>'
    return f"{head}<body><main>{body}</main></body></html>"


def test_an_image_without_alternative_text_fails_the_accessibility_check(bare_page: Page) -> None:
    bare_page.set_content(
        page_with('<h1>Hello</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">')
    )
    with pytest.raises(AssertionError, match=r"image-alt \(critical\)") as failure:
        check_accessibility(bare_page)
    assert "at img" in str(failure.value)  # says where, not only what
    bare_page.set_content(
        page_with(
            '<h1>Hello</h1><img alt="a dot" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        )
    )
    check_accessibility(bare_page)


def test_a_known_violation_must_still_occur(bare_page: Page) -> None:
    bare_page.set_content(page_with("<h1>Hello</h1>"))
    with pytest.raises(AssertionError, match=r"no longer found.*image-alt"):
        check_accessibility(bare_page, known={"image-alt": "a vendored widget"})


def test_a_request_to_another_origin_fails_the_guard(
    bare_page: Page, sqlite_server: ConsentryServer
) -> None:
    guard = watched(bare_page, sqlite_server)
    bare_page.goto(f"{sqlite_server.url}/healthz")
    guard.check()  # the server's own origin is allowed
    bare_page.set_content(
        page_with(
            f'<img alt="own" src="{sqlite_server.url}/docs/assets/favicon-32x32.png">'
            f'<img alt="theirs" src="{THIRD_PARTY}/pixel.png">'
        )
    )
    bare_page.wait_for_load_state("load")
    assert guard.foreign == [f"{THIRD_PARTY}/pixel.png"]
    assert f"{sqlite_server.url}/docs/assets/favicon-32x32.png" in guard.requests
    with pytest.raises(AssertionError, match=r"request to another origin: http://192\.0\.2\.1/"):
        guard.check()


def test_an_inline_script_breaks_the_docs_csp_and_fails_the_guard(
    bare_page: Page, sqlite_server: ConsentryServer
) -> None:
    guard = watched(bare_page, sqlite_server)
    bare_page.goto(f"{sqlite_server.url}/docs")
    bare_page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = true'; document.head.append(s); }"
    )
    assert bare_page.evaluate("() => window.ran === undefined")  # the policy held
    with pytest.raises(AssertionError, match="Content-Security-Policy violation"):
        guard.check()
