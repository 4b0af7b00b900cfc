"""One ledger suite, two backends: every test taking ``backend`` or ``ledger`` runs on SQLite (a
file in the test's folder) and on PostgreSQL (a fresh schema; see ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.ledger.ledger_support import Backend

from consentry.ledger import LedgerStore

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'ledger.db'}")
    return Backend("postgres", str(request.getfixturevalue("postgres_url")))


@pytest.fixture
def ledger(backend: Backend) -> Iterator[LedgerStore]:
    store = backend.open()
    yield store
    store.close()


@pytest.fixture(params=BACKENDS)
def backend_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], Backend]:
    """Fresh, empty databases of one backend, as many as a test needs (Hypothesis examples)."""
    if request.param == "sqlite":
        return lambda: Backend("sqlite", f"sqlite:///{tmp_path_factory.mktemp('l') / 'ledger.db'}")
    # One schema, emptied for each new ledger: creating and migrating a schema per Hypothesis
    # example would cost ~0.2 s each. An emptied ledger is a fresh one: it restarts at seq 1.
    backend = Backend("postgres", str(request.getfixturevalue("postgres_url")))
    backend.open().close()

    def emptied() -> Backend:
        backend.execute("DELETE FROM ledger_entries")
        return backend

    return emptied
