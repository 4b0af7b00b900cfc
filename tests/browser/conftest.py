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
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.api.serving import serve_process
from tests.conftest import POSTGRES_PARAM, skip_or_fail

from consentry.workspace import Workspace

from .harness import CHROMIUM, CHROMIUM_ARGS, CHROMIUM_ENV, ConsentryServer, PageGuard, Pages

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # One per module, not per session: Playwright's sync API keeps an event loop running on
    # the main thread while it lives, and the other suites' ``asyncio.run`` in the same worker
    # would then fail ("cannot be called from a running event loop").
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


@pytest.fixture
def pages(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Pages]:
    """Guarded pages, each in a fresh context, all closed after the test (see ``Pages``)."""
    made = Pages(browser, SERVED_ORIGINS, request.node.stash.setdefault(GUARDS, []))
    yield made
    made.close()


@pytest.fixture
def page(pages: Pages) -> Page:
    """A guarded page, 1280 px wide, in a fresh context."""
    return pages()
