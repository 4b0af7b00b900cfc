"""The command line loads only what every command needs: the service's, the report's and the
demo's libraries load with their own commands. Every build worker imports the command line
again (multiprocessing starts it from the ``consentry`` script), so what loads here is paid
once per worker too."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Libraries of one command or group each, and what needs them.
FOR_ONE_COMMAND = {
    "fastapi": "serve (the HTTP service)",
    "uvicorn": "serve",
    "starlette": "serve",
    "altair": "report",
    "vl_convert": "report",
    "jinja2": "report and serve",
    "babel": "report and serve",
    "weasyprint": "report --format pdf",
    "faker": "demo generate",
    "ray": "snapshot build --executor ray",
}


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}


def test_the_command_line_loads_no_library_of_a_single_command() -> None:
    loaded = loaded_after("import consentry.cli.main")
    assert not loaded & FOR_ONE_COMMAND.keys(), {
        name: FOR_ONE_COMMAND[name] for name in loaded & FOR_ONE_COMMAND.keys()
    }


@pytest.mark.parametrize(
    ("argv", "library"),
    [(["report", "--help"], "altair"), (["demo", "generate", "--help"], "faker")],
)
def test_help_of_a_command_still_works_without_its_libraries(argv: list[str], library: str) -> None:
    # --help is drawn from the signature alone: it must not need the command's libraries.
    code = (
        "import sys\nfrom consentry.cli.main import app\n"
        f"sys.argv = ['consentry', *{argv!r}]\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
    )
    assert library not in loaded_after(code)
