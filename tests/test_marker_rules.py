"""The collection rule in ``tests/conftest.py``: a test that reaches PostgreSQL carries the
``postgres`` marker, so ``-m "not postgres"`` leaves out exactly what needs the server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

UNMARKED = """
import pytest

@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param

def test_uses_a_backend(backend):
    pass
"""

MARKED = UNMARKED.replace('"postgres"]', 'pytest.param("postgres", marks=pytest.mark.postgres)]')


def _collect(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_backend.py").write_text(source, "utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_an_unmarked_postgres_parameter_stops_the_collection(tmp_path: Path) -> None:
    result = _collect(tmp_path, UNMARKED)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "test_uses_a_backend[postgres]" in result.stderr
    assert "lack the `postgres` marker" in result.stderr


@pytest.mark.slow
def test_a_marked_postgres_parameter_is_collected(tmp_path: Path) -> None:
    result = _collect(tmp_path, MARKED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 tests collected" in result.stdout
