"""The sync tests' server start waits on ``/healthz`` and, when the server cannot start, says
why at once (it exited, with its status and log) instead of waiting out the timeout."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from tests.api.serving import start_serve


def test_a_server_that_exits_is_reported_at_once(tmp_path: Path) -> None:
    began = time.monotonic()
    with pytest.raises(AssertionError, match=r"consentry serve exited with 2") as err:
        start_serve(
            "--no-such-option", env=dict(os.environ), log=tmp_path / "serve.log", timeout=240
        )
    assert "no-such-option" in str(err.value)  # the log, shown
    assert time.monotonic() - began < 120  # not the 240 s timeout
