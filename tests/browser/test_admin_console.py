"""The operator's console in a real browser: an admin key signs in through the form, every
section is there, each chart draws one mark per row of its data table, and axe finds no WCAG
2.2 AA violation at a phone's and a desktop's width, in English and in French."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.api.serving import serve_process
from tests.report.workspace import ReportWorkspace, build

from consentry.api.keys import ApiKeys, Role

from .conftest import SERVED_ORIGINS
from .harness import WIDTHS, Pages, check_accessibility, follow, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SECTIONS = ("ledger", "consent", "snapshots", "recipients", "erasures", "models", "ropa")


@pytest.fixture(scope="module")
def console(
    tmp_path_factory: pytest.TempPathFactory, demo_platform: Path
) -> Iterator[tuple[str, str]]:
    """``consentry serve`` over the report's workspace: its URL and an admin key."""
    folder = tmp_path_factory.mktemp("admin-browser")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("CONSENTRY_WORKSPACE", "CONSENTRY_DB", "CONSENTRY_SECRET"):
            mp.delenv(var, raising=False)
        built: ReportWorkspace = build(folder, demo_platform)
    with built.ws.ledger() as ledger:
        key = ApiKeys(ledger).create(Role.ADMIN, label="browser").secret
    env = {**os.environ, "CONSENTRY_WORKSPACE": str(built.ws.root)}
    env.pop("CONSENTRY_DB", None)
    with serve_process(env=env, log=folder / "serve.log") as url:
        SERVED_ORIGINS.add(url)
        yield url, key


def signed_in(page: Page, url: str, key: str) -> Page:
    page.goto(f"{url}/admin")
    assert page.url.endswith("/admin/signin")
    page.fill("#key", key)
    follow(page, "#signin")
    page.wait_for_url(f"{url}/admin")
    return page


@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_console_sections_charts_and_accessibility(
    pages: Pages, console: tuple[str, str], locale: str
) -> None:
    url, key = console
    page = signed_in(pages(locale=locale), url, key)
    assert page.get_attribute("html", "lang") == locale[:2]
    for section in SECTIONS:
        assert page.locator(f"section#{section}").count() == 1, section
    charts = page.locator("svg[data-chart]")
    assert charts.count() >= 6
    for i in range(charts.count()):
        svg = charts.nth(i)
        chart_id = svg.get_attribute("id")
        assert svg.get_attribute("role") == "img"
        assert svg.bounding_box() is not None  # laid out, not an empty box
        marks = svg.locator("g.mark-rect > path").count()
        rows = page.locator(f"#{chart_id}-data tbody tr").count()
        assert marks == rows > 0, chart_id
    for path in ("/admin", "/admin/ropa"):
        page.goto(f"{url}{path}")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            screenshot(page, f"admin{path.replace('/', '-')}-{locale}", width)
            check_accessibility(page)


def test_a_licensee_key_gets_no_page(pages: Pages, console: tuple[str, str]) -> None:
    url, _ = console
    page = pages()
    page.goto(f"{url}/admin/signin")
    page.fill("#key", "csk_0000000000000000_not-a-key")
    follow(page, "#signin")
    assert page.locator("#signin-failed").is_visible()
    page.goto(f"{url}/admin/ropa")
    assert page.url.endswith("/admin/signin")
