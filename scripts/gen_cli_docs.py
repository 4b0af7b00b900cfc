"""Write ``docs/cli.md``, the command-line reference, from the code: run by ``make docs``.

Every command's and sub-command's ``--help`` as the Typer app prints it, and a table of exit
codes read from Consentry's named errors (``consentry.errors`` and any subclass elsewhere in the
package). The output depends on the code alone: a fixed width, no colours, no terminal, whatever
the environment says, so that regenerating after a merge is one command and the test
(``tests/test_docs_cli.py``) can tell when the file is out of date.

    python scripts/gen_cli_docs.py            # write docs/cli.md
    python scripts/gen_cli_docs.py --check    # exit 1 when docs/cli.md is out of date
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import pkgutil
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import typer
import typer.core
import typer.main
import typer.rich_utils
from typer.testing import CliRunner

import consentry
from consentry import errors
from consentry.cli.main import app

ROOT: Final = Path(__file__).resolve().parents[1]
OUT: Final = ROOT / "docs" / "cli.md"
PROG: Final = "consentry"
WIDTH: Final = 100

Path_ = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExitCode:
    code: int
    error: str
    when: str


Command = typer.core.TyperCommand | typer.core.TyperGroup


def commands() -> list[tuple[Path_, Command]]:
    """Every command and command group with the words after ``consentry`` that name it, in the
    order the app's help lists them (the root first, then depth first); hidden ones left out."""
    found: list[tuple[Path_, Command]] = []

    def walk(command: Command, path: Path_) -> None:
        found.append((path, command))
        if isinstance(command, typer.core.TyperGroup):
            for name, sub in command.commands.items():
                if isinstance(sub, Command) and not sub.hidden:
                    walk(sub, (*path, name))

    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    walk(root, ())
    return found


def command_paths() -> list[Path_]:
    return [path for path, _ in commands()]


@contextlib.contextmanager
def plain_help() -> Iterator[None]:
    """Typer's help renderer at a fixed width, without colours or a terminal: it reads these
    settings from the environment once, at import, so they are set on the module for the run."""
    names = ("MAX_WIDTH", "COLOR_SYSTEM", "FORCE_TERMINAL")
    saved = {name: getattr(typer.rich_utils, name) for name in names}
    typer.rich_utils.MAX_WIDTH = WIDTH
    typer.rich_utils.COLOR_SYSTEM = None
    typer.rich_utils.FORCE_TERMINAL = False
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(typer.rich_utils, name, value)


def help_of(runner: CliRunner, path: Path_) -> str:
    result = runner.invoke(app, [*path, "--help"], prog_name=PROG, color=False)
    if result.exit_code != 0:
        raise RuntimeError(f"`{PROG} {' '.join(path)} --help` failed: {result.output}")
    lines = [line.rstrip() for line in result.output.splitlines()]
    return "\n".join(lines).strip("\n")


def error_classes() -> list[type[errors.ConsentryError]]:
    """Consentry's named errors, parents before children. Every module of the package is
    imported first: an error defined where the command line does not reach still counts, and
    the table does not depend on what a process happened to import (tests may define errors of
    their own: only the package's count)."""
    for module in pkgutil.walk_packages(consentry.__path__, "consentry."):
        importlib.import_module(module.name)
    found: list[type[errors.ConsentryError]] = []

    def walk(cls: type[errors.ConsentryError]) -> None:
        if cls.__module__.split(".")[0] == "consentry":
            found.append(cls)
        for sub in sorted(cls.__subclasses__(), key=lambda c: (c.__module__, c.__qualname__)):
            walk(sub)

    walk(errors.ConsentryError)
    return found


def _tree_notes() -> dict[str, str]:
    """What ``consentry.errors``' documented tree says of each error, by class name."""
    notes: dict[str, str] = {}
    for line in (errors.__doc__ or "").splitlines():
        m = re.match(r"^[\s│├└─]*([A-Z]\w+Error)\s{2,}(\S.*)$", line)
        if m:
            notes[m.group(1)] = m.group(2).strip()
    return notes


def _first_paragraph(doc: str) -> str:
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def exit_codes() -> list[ExitCode]:
    notes = _tree_notes()
    rows = [ExitCode(0, "", "the command did what it was asked")]
    rows.append(
        ExitCode(
            typer.BadParameter.exit_code,
            "(Typer)",
            "an unknown, missing or invalid option or argument; the usage is printed",
        )
    )
    for cls in error_classes():
        own = cls.__dict__.get("__doc__")
        when = _first_paragraph(own) if own else notes.get(cls.__name__, "")
        rows.append(ExitCode(cls.exit_code, cls.__name__, when))
    return sorted(rows, key=lambda r: r.code)  # stable: parents stay before their children


def exit_sentences() -> list[tuple[Path_, str]]:
    """Commands whose help says what their exit status means, with the sentence saying it."""
    found: list[tuple[Path_, str]] = []
    for path, command in commands():
        flat = " ".join((command.help or "").split())
        for sentence in re.split(r"(?<=[.!?])\s+", flat):
            if re.search(r"\bexits?\b", sentence, re.IGNORECASE):
                found.append((path, sentence.replace("`", "")))
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _title(path: Path_) -> str:
    return " ".join((PROG, *path))


def _anchor(path: Path_) -> str:
    """GitHub's anchor for the heading of ``path``."""
    return "-".join((PROG, *path)).lower()


def render() -> str:
    paths = command_paths()
    out = [
        "# Command-line reference",
        "",
        "<!-- Generated by scripts/gen_cli_docs.py from the code: run `make docs` after changing"
        " a command, never edit by hand. -->",
        "",
        "Every command's `--help`, as printed at a width of "
        f"{WIDTH} columns, and what each exit code means. The workspace is found with "
        "`--workspace`, the `CONSENTRY_WORKSPACE` variable, or `./.consentry`.",
        "",
        "## Exit codes",
        "",
        "Each named error (`src/consentry/errors.py`) has its exit code; the command prints "
        "`error:` and the reason on standard error, never a traceback.",
        "",
        "| exit code | error | when |",
        "|---|---|---|",
    ]
    for row in exit_codes():
        error = f"`{row.error}`" if row.error.isidentifier() else row.error
        out.append(f"| {row.code} | {error} | {_cell(row.when)} |")
    out += ["", "Commands whose result sets the exit code:", ""]
    for path, sentence in exit_sentences():
        out.append(f"- [`{_title(path)}`](#{_anchor(path)}): {sentence}")
    out += ["", "## Commands", ""]
    for path in paths[1:]:
        indent = "  " * (len(path) - 1)
        out.append(f"{indent}- [`{_title(path)}`](#{_anchor(path)})")
    runner = CliRunner()
    with plain_help():
        for path in paths:
            out += ["", f"### `{_title(path)}`", "", "```text", help_of(runner, path), "```"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only say whether it is up to date")
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text("utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date with the code: run `make docs`", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, "utf-8")
    print(f"wrote {args.out} ({len(command_paths())} commands)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
