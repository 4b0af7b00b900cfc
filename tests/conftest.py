"""Fixtures every suite may use: a database URL per ledger backend.

PostgreSQL: the server named by ``CONSENTRY_TEST_PG`` (default: the development machines'
``postgresql://postgres@127.0.0.1:5432/test``). When it is unreachable the tests that need it
skip, saying why; under ``CI=true`` they fail instead, so that CI can never pass by skipping.
Each test gets a fresh schema (dropped afterwards), reached through ``search_path`` in the URL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import psycopg
import pytest
import redis
from hypothesis import settings

# Hypothesis checks behaviour here, not speed (benchmarks/ measure that): no per-example
# deadline, which a busy CI machine would turn into flaky failures.
settings.register_profile("consentry", deadline=None)
settings.load_profile("consentry")

PG_ENV = "CONSENTRY_TEST_PG"
REDIS_ENV = "CONSENTRY_TEST_REDIS"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with ``reason`` -- or fail under ``CI=true``, where nothing may be skipped."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)


def with_search_path(url: str, schema: str) -> str:
    """``url`` connecting with ``search_path`` set to ``schema``."""
    option = quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


@pytest.fixture(scope="session", autouse=True)
def private_output_memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Where the files Consentry writes are remembered (``consentry.outputs``): a folder of
    the session's, not the home of whoever runs the tests; subprocesses inherit it."""
    from consentry.outputs import STATE_ENV

    before = os.environ.get(STATE_ENV)
    os.environ[STATE_ENV] = str(tmp_path_factory.mktemp("consentry-state"))
    yield
    if before is None:
        os.environ.pop(STATE_ENV, None)
    else:
        os.environ[STATE_ENV] = before


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The test server's URL, checked reachable once per session."""
    url = os.environ.get(PG_ENV, DEFAULT_PG)
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        skip_or_fail(f"PostgreSQL at {url} is unreachable ({exc}); set {PG_ENV} to another server")
    return url


@pytest.fixture(scope="session")
def postgres_schema_factory(postgres_server_url: str) -> Iterator[Callable[[], str]]:
    """Make fresh, empty schemas on demand (URL of each); all dropped at the end of the session."""
    made: list[str] = []

    def make() -> str:
        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        made.append(schema)
        return with_search_path(postgres_server_url, schema)

    yield make
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        for schema in made:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A URL whose ``search_path`` is a fresh schema, dropped after the test."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield with_search_path(postgres_server_url, schema)
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL for a SQLite database file (not yet created) in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis server's URL (``CONSENTRY_TEST_REDIS``, default the development machines'
    ``redis://127.0.0.1:6379/0``), checked reachable once. Skips with the reason when it is not,
    fails under ``CI=true``. Tests keep apart by key prefix (the service namespaces its buckets
    per database), never by flushing: parallel test workers share the server."""
    url = os.environ.get(REDIS_ENV, DEFAULT_REDIS)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at {url} is unreachable ({exc}); set {REDIS_ENV} to another server")
    return url


#: Fixtures that reach the PostgreSQL server, and the parameter value that selects it.
POSTGRES_FIXTURES = frozenset({"postgres_server_url", "postgres_schema_factory", "postgres_url"})
POSTGRES_PARAM = "postgres"


def needs_postgres(item: pytest.Item) -> bool:
    """Whether ``item`` reaches the PostgreSQL server: through a fixture it names, or through a
    backend parameter whose fixture asks for the server at run time."""
    if POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and POSTGRES_PARAM in callspec.params.values()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # ``-m "not postgres"`` must leave out every test that needs the server: a test without the
    # marker would fail, not skip, on a machine without one.
    unmarked = [
        i.nodeid for i in items if needs_postgres(i) and not i.get_closest_marker("postgres")
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests need PostgreSQL but lack the `postgres` marker "
            "(pytest.param('postgres', marks=pytest.mark.postgres)):\n  " + "\n  ".join(unmarked)
        )


@pytest.fixture(scope="session")
def demo_platform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo platform (300 items, seed 5) in the canonical format, made once through the
    CLI, for tests that need a real workspace with content but not a large one."""
    from typer.testing import CliRunner  # here, not at the top: most suites never need the CLI

    from consentry.cli.main import app

    folder = tmp_path_factory.mktemp("demo-platform")
    result = CliRunner().invoke(
        app, ["demo", "generate", "--out", str(folder), "--seed", "5", "--posts", "300"]
    )
    assert result.exit_code == 0, result.output
    return folder


def isolate_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the CLI in ``tmp_path`` with no workspace, database or secret from the environment,
    and tables laid out for a wide terminal so that assertions see whole cells."""
    from consentry.cli import common

    monkeypatch.chdir(tmp_path)
    for var in ("CONSENTRY_WORKSPACE", "CONSENTRY_DB", "CONSENTRY_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(common.console, "width", 200)
    monkeypatch.setattr(common.err_console, "width", 200)
