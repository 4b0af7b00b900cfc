"""The report's workspace, built once per module (through the CLI: ~10 s)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.report.workspace import ReportWorkspace, build


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, demo_platform: Path) -> ReportWorkspace:
    with pytest.MonkeyPatch.context() as mp:
        # The workspace is the one built here, whatever the environment names.
        for var in ("CONSENTRY_WORKSPACE", "CONSENTRY_DB", "CONSENTRY_SECRET"):
            mp.delenv(var, raising=False)
        return build(tmp_path_factory.mktemp("report"), demo_platform)
