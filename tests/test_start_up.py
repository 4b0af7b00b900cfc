"""What our processes load when they start: no pandas, and no polars for ADBC
(``consentry.skipped_probes``), though either still works where something asks for it; no
detector pattern compiled in the build's own process, every one compiled in the forkserver its
workers are forked from, and frozen there. Each case runs in a fresh interpreter: what is
loaded once per process is what is tested."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Which of the detectors' large patterns a process has compiled.
COMPILED = (
    "from consentry.scrub.detectors import phones, urls\n"
    "print(phones._pattern.cache_info().currsize > 0, urls._compiled.cache_info().currsize > 0)"
)

#: Whether a process holds phonenumbers' metadata of (nearly) every region.
REGIONS = (
    "from phonenumbers.phonemetadata import PhoneMetadata\n"
    "print(len(PhoneMetadata._region_metadata) > 200)"
)

#: Whether loading a ledger imported polars (ADBC looks for it), and polars still working.
LEDGER_THEN_POLARS = (
    "import consentry.ledger.sqlite\n"
    "looked = 'polars' in sys.modules\n"
    "import polars\n"
    "print(looked, polars.DataFrame({'a': [1]}).shape)"
)

CASES = [
    # (what the process imports first, what it runs then, what it must print)
    ("consentry.cli.main", "print('pandas' in sys.modules)", "False"),
    ("consentry.snapshot.worker_start", "print('pandas' in sys.modules)", "False"),
    # Arrow's conversions, after the look: still without pandas.
    (
        "consentry.cli.main",
        "pa.array([1, None]); pa.array(np.arange(3)); pa.table({'a': [1]}).column('a').to_pylist()"
        "; print('pandas' in sys.modules)",
        "False",
    ),
    # Asked for, pandas is imported and used as pyarrow always did: NaN read as null.
    (
        "consentry.cli.main",
        "df = pa.table({'a': [1.5, None]}).to_pandas()"
        "; print(pa.array(df['a'], from_pandas=True).null_count)",
        "1",
    ),
    (
        "consentry.cli.main",
        "import pandas as pd"
        "; print(pa.Table.from_pandas(pd.DataFrame({'a': [1.0, None]})).num_rows)",
        "2",
    ),
    # The build's own process names the detectors; its forkserver compiles their patterns.
    ("consentry.cli.main", COMPILED, "False False"),
    ("consentry.snapshot.worker_start", COMPILED, "True True"),
    # The forkserver loads phonenumbers' metadata of every region, which workers then need not.
    ("consentry.snapshot.worker_start", REGIONS, "True"),
    ("consentry.cli.main", REGIONS, "False"),
    # The ledgers' ADBC module, loaded by the command line: without its look for polars.
    ("consentry.cli.main", LEDGER_THEN_POLARS, "False (1, 1)"),
    # What the forkserver loaded is frozen: its workers' collections do not walk it.
    ("consentry.snapshot.worker_start", "import gc; print(gc.get_freeze_count() > 10_000)", "True"),
]


def _printed(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize(("first", "then", "expected"), CASES)
def test_what_a_process_of_ours_loads_at_start(first: str, then: str, expected: str) -> None:
    code = f"import sys\nimport {first}\nimport numpy as np\nimport pyarrow as pa\n{then}\n"
    assert _printed(code) == expected


def test_a_library_import_keeps_pyarrows_own_behaviour() -> None:
    """Importing the library (not the command line) changes nothing in pyarrow."""
    code = (
        "import sys\nimport consentry.snapshot.build\nimport pyarrow as pa\n"
        "pa.array([1])\nprint('pandas' in sys.modules)\n"
    )
    assert _printed(code) == "True"


def test_a_library_import_keeps_adbcs_own_behaviour() -> None:
    """Outside the command line, ADBC binds polars frames as it always did."""
    pytest.importorskip("polars")
    code = "import sys\nimport consentry.ledger.sqlite\nprint('polars' in sys.modules)\n"
    assert _printed(code) == "True"


def test_a_command_ends_with_what_it_loaded_frozen() -> None:
    """The command's process freezes its objects as it ends (its exit then walks none of
    them); the command's own output and status are kept."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 10_000))\n"
        "sys.argv = ['consentry', '--version']\n"
        "from consentry.cli.main import run_process\n"
        "run_process()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.startswith("consentry ")
    assert done.stdout.strip().endswith("frozen True")


def test_a_started_executor_has_its_workers_server_starting() -> None:
    """``start`` launches the local executor's forkserver and returns (its workers are forked
    from it later); one worker (the build's own process) or Ray start nothing here."""
    code = (
        "import psutil\n"
        "from consentry.snapshot.executors import LocalExecutor, RayExecutor\n"
        "LocalExecutor(1).start(); RayExecutor().start()\n"
        "alone = psutil.Process().children()\n"
        "LocalExecutor(2).start(); LocalExecutor(2).start()\n"
        "servers = [p for p in psutil.Process().children() if 'forkserver' in str(p.cmdline())]\n"
        "print(len(alone), len(servers))\n"
    )
    assert _printed(code) == "0 1"


def test_detectors_compile_their_patterns_when_first_used() -> None:
    """In a process that did not warm them (the command line's), the detectors still work."""
    code = (
        "import consentry.cli.main\n"
        "from consentry.scrub import scrub_text\n"
        "print(scrub_text('call +33 6 12 34 56 78, 020 7946 0958 or see https://example.com/a'))\n"
    )
    assert _printed(code) == "call <PHONE>, <PHONE> or see <URL>"


#: A forkserver worker started by a process whose main module is ``main`` (as ``python -m main``
#: or the installed command makes it), asked which of ``modules`` it holds.
WORKER_PROBE = """
import importlib, multiprocessing, sys
sys.modules["__main__"] = importlib.import_module({main!r})
context = multiprocessing.get_context("forkserver")
context.set_forkserver_preload(["consentry.snapshot.worker_start"])
with context.Pool(1) as pool:
    print(pool.apply(eval, ("[m in __import__('sys').modules for m in {modules!r}]",)))
"""

#: What the command line loads and a build's worker needs none of.
COMMAND_LINE = ("consentry.cli.main", "consentry.cli.snapshot", "consentry.compliance.erasure")


@pytest.mark.parametrize("main", ["consentry.cli.main", "consentry.__main__"])
def test_a_build_worker_loads_none_of_the_command_line(main: str) -> None:
    """multiprocessing has each worker import its parent's main module, as ``__mp_main__``
    (a package's ``__main__`` excepted): the command line's, imported so, registers no command
    and imports no group of commands; the installed command's entry (``consentry.__main__``,
    which its script imports) imports none either."""
    code = WORKER_PROBE.format(main=main, modules=COMMAND_LINE)
    assert _printed(code) == str([False] * len(COMMAND_LINE))


#: A build's worker, started from a process whose environment holds ``conf`` for jemalloc, asked
#: what jemalloc read when the worker's forkserver loaded pyarrow.
DECAY_PROBE = """
import multiprocessing, os
from consentry.allocator import JEMALLOC_CONF
if {conf!r} is None:
    os.environ.pop(JEMALLOC_CONF, None)
else:
    os.environ[JEMALLOC_CONF] = {conf!r}
context = multiprocessing.get_context("forkserver")
context.set_forkserver_preload(["consentry.snapshot.worker_start"])
with context.Pool(1) as pool:
    print(pool.apply(os.getenv, (JEMALLOC_CONF,)), os.environ.get(JEMALLOC_CONF))
"""


@pytest.mark.parametrize(
    ("conf", "worker"),
    [
        # The command's short decay: its workers keep Arrow's second (consentry.allocator).
        ("dirty_decay_ms:100,muzzy_decay_ms:0", "dirty_decay_ms:1000,muzzy_decay_ms:0"),
        # Someone's own setting, or none: left as it is.
        ("dirty_decay_ms:5000", "dirty_decay_ms:5000"),
        (None, "None"),
    ],
)
def test_a_build_worker_keeps_freed_pages_as_its_allocator_setting_says(
    conf: str | None, worker: str
) -> None:
    from consentry.allocator import COMMAND_DECAY, WORKER_DECAY

    assert (COMMAND_DECAY, WORKER_DECAY) == (
        "dirty_decay_ms:100,muzzy_decay_ms:0",
        "dirty_decay_ms:1000,muzzy_decay_ms:0",
    )
    # The parent's own setting is not changed by its workers'.
    assert _printed(DECAY_PROBE.format(conf=conf)) == f"{worker} {conf}"


#: What jemalloc's variable holds when pyarrow (which starts jemalloc) is first imported by
#: ``worker_start``, the environment holding the command's decay before it.
DECAY_AT_PYARROW = """
import os, sys
from importlib.abc import MetaPathFinder
os.environ["JE_ARROW_MALLOC_CONF"] = "dirty_decay_ms:100,muzzy_decay_ms:0"
seen = []
class Watch(MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "pyarrow" and not seen:
            seen.append(os.environ.get("JE_ARROW_MALLOC_CONF"))
        return None
sys.meta_path.insert(0, Watch())
import consentry.snapshot.worker_start
print(seen)
"""


def test_the_forkserver_sets_the_decay_before_anything_loads_pyarrow() -> None:
    """jemalloc reads its options once, when pyarrow first loads it: ``worker_start`` must set
    the workers' before its first import of pyarrow."""
    assert _printed(DECAY_AT_PYARROW) == "['dirty_decay_ms:1000,muzzy_decay_ms:0']"


def test_the_installed_command_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "consentry", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.startswith("consentry ")
