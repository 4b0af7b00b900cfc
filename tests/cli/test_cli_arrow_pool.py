"""The command picks Arrow's process-wide allocator before pyarrow is imported (it cannot be
changed afterwards): jemalloc where pyarrow has it, unless the environment already chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

PROBE = "import consentry.cli.main, pyarrow as pa; print(pa.default_memory_pool().backend_name)"


def _backend(env_pool: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if env_pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = env_pool
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_command_runs_arrow_on_jemalloc() -> None:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow was built without jemalloc")
    assert _backend(None) == "jemalloc"


def test_an_allocator_chosen_in_the_environment_is_kept() -> None:
    assert _backend("system") == "system"
