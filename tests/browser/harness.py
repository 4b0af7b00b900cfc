"""What every browser test shares: Chromium as it is launched on these machines, the guard on
what a page does, the accessibility check and the screenshots. The fixtures that use these are
in ``conftest.py``; ``docs/browser-tests.md`` says how to write a test with them.

Playwright is imported for types only, so that this module (and the conftest) loads where
Playwright is absent and the tests skip, saying why, instead of failing to collect.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from consentry.api import tokens
from consentry.workspace import Workspace

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Error,
        Page,
        Request,
        Route,
        WebSocketRoute,
    )

CHROMIUM_ENV = "CONSENTRY_TEST_CHROMIUM"
#: Debian's Chromium (``make test`` installs it): Playwright's own browser download does not work
#: on these machines, so Playwright launches this one through ``executable_path``.
CHROMIUM = Path(os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium"))
#: Without the background-networking flags Chromium keeps calling home, and the closed network
#: refuses it many times a start. Playwright gives each launch a fresh, empty user data folder.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

ARTIFACTS_ENV = "CONSENTRY_TEST_ARTIFACTS"
#: Test artefacts (git-ignored): screenshots land in ``screenshots/`` below.
ARTIFACTS = Path(os.environ.get(ARTIFACTS_ENV, Path(__file__).parents[2] / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
#: The widths every page is looked at: a small phone and a desktop.
WIDTHS = (360, 1280)

#: WCAG 2.2 AA, as axe-core tags it (each level includes the ones below it).
WCAG_22_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")

# URLs that never leave the page: they name no origin to be contacted.
_LOCAL_SCHEMES = frozenset({"data", "blob", "about", "javascript"})


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url``, or None for a URL that reaches no server."""
    parts = urlsplit(url)
    if parts.scheme in _LOCAL_SCHEMES:
        return None
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class PageGuard:
    """Watches a browser context: every request (and WebSocket) it makes, the Content Security
    Policy violations and uncaught script errors of its pages. A request to an origin outside
    ``allowed`` is recorded and aborted, so that a test never reaches a third party.
    ``check()`` fails with the list; the ``pages`` fixture calls it after every test."""

    allowed: set[str]
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        context.route(re.compile(r".*"), self._route)
        context.route_web_socket(re.compile(r".*"), self._route_socket)
        context.on("request", self._record)
        context.on("console", self._console)
        context.on("weberror", lambda error: self._script_error(error.error))

    def is_foreign(self, url: str) -> bool:
        found = origin(url)
        return found is not None and found not in self.allowed

    def check(self) -> None:
        problems = [
            *(f"request to another origin: {url}" for url in self.foreign),
            *(f"Content-Security-Policy violation: {text}" for text in self.csp_violations),
            *(f"uncaught script error: {text}" for text in self.script_errors),
        ]
        if problems:
            allowed = ", ".join(sorted(self.allowed)) or "none"
            raise AssertionError(
                f"the page did what it must not (allowed origins: {allowed}):\n  "
                + "\n  ".join(problems)
            )

    def _record(self, request: Request) -> None:
        self.requests.append(request.url)
        if self.is_foreign(request.url) and request.url not in self.foreign:
            self.foreign.append(request.url)

    def _route(self, route: Route) -> None:
        if self.is_foreign(route.request.url):
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def _route_socket(self, socket: WebSocketRoute) -> None:
        self.requests.append(socket.url)
        if self.is_foreign(socket.url):
            self.foreign.append(socket.url)
            socket.close()
        else:
            socket.connect_to_server()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def _script_error(self, error: Error) -> None:
        self.script_errors.append(f"{error.name}: {error.message}")


@dataclass(frozen=True)
class ConsentryServer:
    """A running ``consentry serve`` and what a test needs to sign people in."""

    url: str
    ws: Workspace
    backend: str
    #: The demo platform's account ids, in its ``accounts.jsonl`` order.
    accounts: tuple[str, ...]

    def token(self, account: str, *, ttl: int = 600) -> str:
        """The JWT the platform would put in a person's sign-in link."""
        return tokens.mint(tokens.signing_key(self.ws), account, ttl=ttl)


class Pages:
    """``pages(**context_options)``: a new page in a fresh context (Playwright's
    ``new_context`` options: ``locale="fr-FR"``, ``extra_http_headers={"Sec-GPC": "1"}``, …),
    1280 px wide unless told, watched by a guard of its own (``pages.guard(page)``)."""

    def __init__(self, browser: Browser, allowed: set[str], guards: list[PageGuard]) -> None:
        self._browser = browser
        self._allowed = allowed
        self._guards = guards
        self._contexts: list[BrowserContext] = []
        self._by_page: dict[int, PageGuard] = {}

    def __call__(self, **options: Any) -> Page:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = self._browser.new_context(**options)
        self._contexts.append(context)
        guard = PageGuard(allowed=self._allowed)
        guard.watch(context)
        self._guards.append(guard)
        page = context.new_page()
        self._by_page[id(page)] = guard
        return page

    def guard(self, page: Page) -> PageGuard:
        return self._by_page[id(page)]

    def close(self) -> None:
        for context in self._contexts:
            context.close()


def axe_violations(page: Page, tags: tuple[str, ...] = WCAG_22_AA) -> list[dict[str, Any]]:
    """What axe-core (the copy ``axe-playwright-python`` ships) finds on ``page`` as it is now,
    for the rules tagged ``tags``. Axe is injected through the DevTools protocol, which the
    page's Content-Security-Policy does not govern."""
    from axe_playwright_python.sync_playwright import Axe

    # Once the page has loaded, its stylesheet applied: a page just navigated to (a form's
    # redirect) was otherwise now and then judged unstyled (links 17 px high, not 44).
    page.wait_for_load_state("load")
    options = {"runOnly": {"type": "tag", "values": list(tags)}, "resultTypes": ["violations"]}
    violations: list[dict[str, Any]] = Axe().run(page, options=options).response["violations"]
    return violations


def report(violations: list[dict[str, Any]]) -> str:
    """One readable paragraph per violated rule: what, how bad, where, and how to fix it."""
    lines = [f"axe-core found {len(violations)} WCAG 2.2 AA violation(s):"]
    for rule in violations:
        lines.append(f"- {rule['id']} ({rule['impact']}): {rule['help']} [{rule['helpUrl']}]")
        for node in rule["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"    at {target}: {summary}")
    return "\n".join(lines)


def check_accessibility(page: Page, *, known: Mapping[str, str] | None = None) -> None:
    """Fail unless axe-core finds zero WCAG 2.2 AA violations on ``page``.

    ``known`` maps a rule id to why its violations are not Consentry's to fix (a vendored
    component's own markup): those are left out, and each must still occur, so that the
    exception goes when the cause does. Consentry's own pages pass nothing here."""
    known = dict(known or {})
    violations = axe_violations(page)
    found = {rule["id"] for rule in violations}
    gone = sorted(set(known) - found)
    assert not gone, f"known violations no longer found, drop them from the list: {gone}"
    rest = [rule for rule in violations if rule["id"] not in known]
    assert not rest, report(rest)


def screenshot(page: Page, name: str, width: int) -> Path:
    """A full-page PNG of ``page`` at ``width`` CSS pixels, as a test artefact:
    ``test-artifacts/screenshots/NAME-WIDTHpx.png``. The page keeps that width afterwards."""
    height = page.viewport_size["height"] if page.viewport_size else 800
    page.set_viewport_size({"width": width, "height": height})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{width}px.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def follow(page: Page, selector: str) -> None:
    """Click the link or submit button ``selector`` and wait until the page it leads to has
    loaded. A bare ``click`` returns once the navigation commits, before the new document is
    parsed, so a count read straight after it can see an empty page."""
    with page.expect_navigation(wait_until="load"):
        page.click(selector)
