"""The command line registers, for a command run from the terminal, that command's module only
(``consentry.cli.main.COMMANDS``): each command is in the table, each built from its module
alone is the command of the whole command line, and running one imports no other's module."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer.main

from consentry.cli.main import COMMANDS, command_line


def _commands(app: typer.Typer) -> dict[str, Any]:
    return dict(getattr(typer.main.get_command(app), "commands"))  # noqa: B009 (a group's)


def _shape(command: Any) -> Any:
    """A command's help, options and subcommands, all the way down."""
    subcommands = getattr(command, "commands", {})
    return (
        command.help,
        [(p.name, tuple(getattr(p, "opts", ()))) for p in command.params],
        {name: _shape(sub) for name, sub in sorted(subcommands.items())},
    )


def test_the_table_names_every_command_and_only_them() -> None:
    assert set(COMMANDS) == set(_commands(command_line()))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_command_from_its_module_alone_is_the_whole_command_lines(name: str) -> None:
    alone = _commands(command_line([COMMANDS[name]]))
    whole = _commands(command_line())
    assert name in alone
    assert _shape(alone[name]) == _shape(whole[name])


#: What a process running ``consentry ARGS`` holds of the command line's modules after it.
PROBE = """
import sys
from consentry.cli.main import run
try:
    run({args!r})
except SystemExit:
    pass
print(sorted(m for m in sys.modules if m.startswith("consentry.cli.")))
"""


#: Modules of commands that none of the commands probed below needs.
UNRELATED = ("service", "importing", "demo", "model", "signals", "sync")


@pytest.mark.parametrize(
    ("args", "own"),
    [
        (["consent", "--help"], "consent"),
        (["snapshot", "--help"], "snapshot"),
        (["whereis"], "compliance"),
    ],
)
def test_running_a_command_imports_its_module_only(args: list[str], own: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, check=True
    )
    held = eval(done.stdout.strip().splitlines()[-1])  # the probe's own printed list
    assert f"consentry.cli.{own}" in held
    assert not [m for m in UNRELATED if f"consentry.cli.{m}" in held]


def test_no_command_named_builds_the_whole_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "consentry", "--help"], capture_output=True, text=True, check=True
    )
    for name in COMMANDS:
        assert name in done.stdout
