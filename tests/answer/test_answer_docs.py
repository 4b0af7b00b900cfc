"""docs/answer.md's worked example runs as written (a real bm25s index over the demo
platform: after a withdrawal, none of the person's posts grounds an answer)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "answer.md"


def example() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text("utf-8"), re.MULTILINE | re.DOTALL)
    assert blocks, f"{DOC}: no python block"
    return str(blocks[0])


@pytest.mark.slow
def test_the_worked_example_runs(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(example(), "utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "after" in done.stdout
