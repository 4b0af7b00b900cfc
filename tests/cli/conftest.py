from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import isolate_cli
from typer.testing import CliRunner, Result

from consentry.cli.main import app

Run = Callable[..., Result]


def invoker() -> Run:
    """`consentry ARGS…` in this process, asserting the exit code (0 unless told)."""
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return invoke


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run `consentry ARGS…` in a fresh folder; assert the exit code (0 unless told)."""
    isolate_cli(tmp_path, monkeypatch)
    return invoker()
