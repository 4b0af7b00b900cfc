"""The README's tour runs as written: its shell block, line by line, on a fresh folder, each line
exiting as the README says (0, unless the line is marked ``# exit N: why``)."""

from __future__ import annotations

import functools
import os
import random
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.platform.demo.accounts import TOUR_ACCOUNT, make_accounts, minor_birth_cutoff
from consentry.platform.demo.pools import Pools, build_pools

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TOUR_HEADING = "## A short tour"
#: The tour's platform, smaller than the README's so that the test takes seconds, not minutes.
TOUR_POSTS = 3000
EXIT_MARK = re.compile(r"#\s*exit (\d+):")
POSTS = re.compile(r"--posts \d+")


def tour_block(readme: str) -> str:
    """The first ``sh`` block of the tour section."""
    start = readme.index(TOUR_HEADING)
    end = readme.find("\n## ", start + len(TOUR_HEADING))
    section = readme[start : end if end != -1 else len(readme)]
    m = re.search(r"^```sh\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert m, f"README.md: no ```sh block under {TOUR_HEADING!r}"
    return m.group(1)


def tour_script(block: str, posts: int) -> str:
    """The block as a bash script that stops at the first line exiting otherwise than the README
    says, naming it. Lines continued with a backslash count as one."""
    lines = block.replace("\\\n", " ").splitlines()
    out = [
        "set -eo pipefail",
        "trap 'echo \"README tour: this line failed: $BASH_COMMAND\" >&2' ERR",
    ]
    for number, line in enumerate(lines, 1):
        line = POSTS.sub(f"--posts {posts}", line)
        expected = EXIT_MARK.search(line)
        if expected is None:
            out.append(line)
            continue
        # The line's own comment runs to its end: the check goes on the lines after it.
        out += [
            f"if {line}",
            "then rc=0; else rc=$?; fi",
            f'[ "$rc" = {expected.group(1)} ] || {{ echo "README tour line {number} exited'
            f' $rc, the README says {expected.group(1)}" >&2; exit 101; }}',
        ]
    return "\n".join(out) + "\n"


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    block = tour_block(README.read_text("utf-8"))
    assert POSTS.search(block), "the tour generates its platform with --posts N"
    assert EXIT_MARK.search(block), "the tour marks `compliance overdue`, which exits 1"
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "consentry").is_file(), f"no consentry command beside {sys.executable}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    script = tmp_path / "tour.sh"
    script.write_text(tour_script(block, TOUR_POSTS), "utf-8")
    work = tmp_path / "fresh"
    work.mkdir()
    done = subprocess.run(
        ["bash", str(script)], cwd=work, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # What the tour promises, seen in what it printed and left behind.
    assert "compliance: " in done.stdout and "deletion event(s) emitted" in done.stdout
    assert "history up to published head 5 is intact" in done.stdout
    assert "No overdue compliance events." in done.stdout
    assert (work / "report.json").is_file() and (work / "clean.parquet").is_file()
    assert list((work / ".consentry" / "certificates").iterdir())
    cursor = (work / "cursor.txt").read_text("utf-8").split()
    assert cursor[0] == "next-cursor:" and int(cursor[1]) > 0, "the withdrawal reached acme-ai"


def test_a_marked_line_is_checked_for_its_exit_code(tmp_path: Path) -> None:
    """The harness itself: a marked line must exit with its code, an unmarked one with 0."""
    ok = tour_script("true\nfalse   # exit 1: by design\n", TOUR_POSTS)
    wrong = tour_script("true   # exit 1: it does not\n", TOUR_POSTS)
    failing = tour_script("false\ntouch after\n", TOUR_POSTS)
    run = functools.partial(subprocess.run, cwd=tmp_path, capture_output=True, text=True)
    assert run(["bash", "-c", ok]).returncode == 0
    done = run(["bash", "-c", wrong])
    assert done.returncode == 101 and "line 1 exited 0, the README says 1" in done.stderr
    done = run(["bash", "-c", failing])
    assert done.returncode != 0 and "this line failed: false" in done.stderr
    assert not (tmp_path / "after").exists()


@functools.cache
def _pools() -> Pools:
    return build_pools(0)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60))
def test_the_tour_account_is_there_for_any_seed_and_size(seed: int, n: int) -> None:
    accounts = make_accounts(n, np.random.default_rng(seed), random.Random(seed), _pools())
    assert accounts.ids[0] == TOUR_ACCOUNT
    assert accounts.statuses[0] == "active" and not accounts.protected[0]
    born = accounts.birth_dates[0]
    assert born is not None and date.fromisoformat(born) <= minor_birth_cutoff()
