"""The rule in ``tests/conftest.py``: without a PostgreSQL server the tests that need one skip,
saying why, except under ``CI=true``, where they fail (a CI run must never pass by skipping)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDS_PG = "tests/ledger/test_ledger_postgres.py::test_migrations_are_applied_once"


def run_without_server(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["CONSENTRY_TEST_PG"] = "postgresql://postgres@127.0.0.1:1/test?connect_timeout=2"
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", NEEDS_PG],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_postgres_tests_skip_with_a_reason_when_the_server_is_unreachable() -> None:
    result = run_without_server(ci=None)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "is unreachable" in result.stdout


@pytest.mark.slow
def test_postgres_tests_fail_under_ci_when_the_server_is_unreachable() -> None:
    result = run_without_server(ci="true")
    assert result.returncode == 1, result.stdout
    assert "CI=true: this test must run, not skip" in result.stdout
