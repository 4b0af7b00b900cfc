"""The models tests share the compliance tests' small platform (every record known) and their
`consentry …` runner over it, on SQLite and on PostgreSQL (``run``)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.compliance.conftest import Run, run

__all__ = ["Run", "run", "snapshot_id"]


def snapshot_id(folder: Path) -> str:
    """The id of the snapshot published in ``folder``, read from its manifest."""
    return str(json.loads((folder / "manifest.json").read_text())["snapshot_id"])
