"""The harness's checks can fail: a page with a WCAG violation fails ``check_accessibility``, and
a page reaching another origin, or breaking its Content-Security-Policy, fails its guard."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .harness import ConsentryServer, PageGuard, check_accessibility

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
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
    with bare_page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        bare_page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.ran = true'; document.head.append(s); }"
        )
    assert bare_page.evaluate("() => window.ran === undefined")  # the policy held
    with pytest.raises(AssertionError, match="Content-Security-Policy violation"):
        guard.check()


GUARDED_TEST = f'''
def test_reaches_a_third_party(page):
    page.set_content('<img alt="theirs" src="{THIRD_PARTY}/pixel.png">')
    page.wait_for_load_state("load")
'''


def test_the_page_fixture_fails_the_test_itself_on_a_third_party_request(tmp_path: Path) -> None:
    # In a pytest of its own: the failure this test looks for would otherwise be its own.
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import *  # noqa: F403\n"
        "from tests.browser.conftest import *  # noqa: F403\n",
        "utf-8",
    )
    (tmp_path / "test_guarded.py").write_text(GUARDED_TEST, "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    # Failed in its call, not errored in a teardown: the summary counts no error.
    assert result.stdout.strip().splitlines()[-1].startswith("1 failed in "), result.stdout
    assert f"request to another origin: {THIRD_PARTY}/pixel.png" in result.stdout
