"""Fixtures for tests in a real browser: Debian's Chromium driven by Playwright, against a real
``consentry serve`` on a loopback port over a workspace holding a small demo platform.

- ``browser``: one Chromium per test session (per xdist worker);
- ``consentry_server``: the server, on SQLite and on PostgreSQL (one per backend per session);
  ``sqlite_server`` where the backend does not matter;
- ``pages``: a factory of pages, each in a fresh context (its own cookies), guarded: after the
  test, any request to another origin than a Consentry server's, any CSP violation and any
  uncaught script error fails it; ``page``: one such page, 1280 px wide.

Where Chromium or Playwright is absent the tests skip, saying why; under ``CI=true`` they fail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.api.serving import serve_process
from tests.conftest import POSTGRES_PARAM, skip_or_fail

from consentry.api import tokens
from consentry.workspace import Workspace

from .harness import CHROMIUM, CHROMIUM_ARGS, CHROMIUM_ENV, PageGuard

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

#: The guards of the test being run, checked once it has passed (so that a guard's finding
#: fails the test itself, not its teardown).
GUARDS = pytest.StashKey[list[PageGuard]]()
#: Every Consentry server's origin this session: the only ones a page may reach.
SERVED_ORIGINS: set[str] = set()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    result = yield
    for guard in item.stash.get(GUARDS, []):
        guard.check()
    return result


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        skip_or_fail(
            f"no Chromium at {CHROMIUM} (`make test` installs Debian's, as root; "
            f"{CHROMIUM_ENV} names another)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
        )
        yield launched
        launched.close()


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


def _import_demo(root: Path, demo_platform: Path) -> None:
    from typer.testing import CliRunner

    from consentry.cli.main import app

    result = CliRunner().invoke(
        app,
        ["import", "canonical", str(demo_platform), "-w", str(root)],
        env={"CONSENTRY_WORKSPACE": None, "CONSENTRY_DB": None, "CONSENTRY_SECRET": None},
    )
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def _servers(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    demo_platform: Path,
) -> Iterator[Callable[[str], ConsentryServer]]:
    """Start the server of a backend once, on first use; all stopped at the end."""
    running: dict[str, ConsentryServer] = {}
    with ExitStack() as stack:

        def get(backend: str) -> ConsentryServer:
            if backend in running:
                return running[backend]
            folder = tmp_path_factory.mktemp(f"browser-{backend}")
            db_url = None
            if backend == POSTGRES_PARAM:
                db_url = request.getfixturevalue("postgres_schema_factory")()
            ws = Workspace.init(folder / "ws", db_url=db_url)
            _import_demo(ws.root, demo_platform)
            env = {**os.environ, "CONSENTRY_WORKSPACE": str(ws.root)}
            env.pop("CONSENTRY_DB", None)
            url = stack.enter_context(serve_process(env=env, log=folder / "serve.log"))
            SERVED_ORIGINS.add(url)
            lines = (demo_platform / "accounts.jsonl").read_text("utf-8").splitlines()
            accounts = tuple(json.loads(line)["id"] for line in lines if line.strip())
            running[backend] = ConsentryServer(url, ws, backend, accounts)
            return running[backend]

        yield get


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param(POSTGRES_PARAM, marks=pytest.mark.postgres)]
)
def consentry_server(
    request: pytest.FixtureRequest, _servers: Callable[[str], ConsentryServer]
) -> ConsentryServer:
    """``consentry serve`` over a demo workspace, once on SQLite and once on PostgreSQL."""
    return _servers(str(request.param))


@pytest.fixture(scope="session")
def sqlite_server(_servers: Callable[[str], ConsentryServer]) -> ConsentryServer:
    """``consentry serve`` over a demo workspace on SQLite, for pages the backend cannot change."""
    return _servers("sqlite")


class Pages:
    """``pages(**context_options)``: a new page in a fresh context (Playwright's
    ``new_context`` options: ``locale="fr-FR"``, ``extra_http_headers={"Sec-GPC": "1"}``, …),
    1280 px wide unless told, watched by a guard of its own (``pages.guard(page)``)."""

    def __init__(self, browser: Browser, guards: list[PageGuard]) -> None:
        self._browser = browser
        self._guards = guards
        self._contexts: list[BrowserContext] = []
        self._by_page: dict[int, PageGuard] = {}

    def __call__(self, **options: Any) -> Page:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = self._browser.new_context(**options)
        self._contexts.append(context)
        guard = PageGuard(allowed=SERVED_ORIGINS)
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


@pytest.fixture
def pages(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Pages]:
    """Guarded pages, each in a fresh context, all closed after the test (see ``Pages``)."""
    made = Pages(browser, request.node.stash.setdefault(GUARDS, []))
    yield made
    made.close()


@pytest.fixture
def page(pages: Pages) -> Page:
    """A guarded page, 1280 px wide, in a fresh context."""
    return pages()
