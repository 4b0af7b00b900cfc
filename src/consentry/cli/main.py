"""The ``consentry`` command line. Each group of commands lives in its own module.

The module defines no command when imported: ``run`` builds the command line with the module of
the command it runs, and ``app`` (the whole command line) is built when first asked for. So
multiprocessing, which has each worker import the main module of the process that started it
(as ``__mp_main__``: a build's ``--workers``, run with ``python -m consentry.cli.main``), loads
none of the commands in a worker, which needs none (importing them all cost ~0.7 CPU-s per
worker, a tenth of a 2,000,000-post build). ``consentry.__main__`` is the installed command's
light entry for the same reason.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"consentry {version('consentry')}")
        raise typer.Exit()


def main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Options of the command itself; the app's help above is what `consentry` prints."""


#: Each top-level command, by the module of ``consentry.cli`` that registers it: a command run
#: from the terminal imports its own module only (``run``); every module costs its imports
#: (~0.2 CPU-s for the others', at each start of a build). ``test_cli_commands`` checks the
#: table against the whole command line.
COMMANDS: Final[dict[str, str]] = {
    "init": "workspace",
    "consent": "consent",
    "ledger": "ledger",
    "policy": "policy",
    "snapshot": "snapshot",
    "scrub": "scrub",
    "sync": "sync",
    "import": "importing",
    "demo": "demo",
    "recipient": "compliance",
    "compliance": "compliance",
    "erase": "compliance",
    "whereis": "compliance",
    "export": "compliance",
    "serve": "service",
    "token": "service",
    "invoice": "service",
    "keys": "service",
    "plan": "service",
    "signals": "signals",
    "model": "model",
    "report": "report",
}


def _register(app: typer.Typer, name: str) -> None:
    """Register the commands of ``consentry.cli.<name>``."""
    module = importlib.import_module(f"consentry.cli.{name}")
    if name in ("workspace", "compliance", "service", "report"):
        module.register(app)
    elif name in ("scrub", "sync"):
        app.command(name)(getattr(module, f"{name}_command"))
    else:
        app.add_typer(module.app, name="import" if name == "importing" else name)


def command_line(modules: Sequence[str] | None = None) -> typer.Typer:
    """The ``consentry`` command, with the commands of ``modules`` (default: every one)."""
    app = typer.Typer(
        name="consentry",
        help=(
            "Consent-first gate between a social platform's user content and AI training.\n\n"
            "Start with `consentry init`, record choices with `consentry consent grant|deny`, "
            "and prove the ledger with `consentry ledger verify`."
        ),
        no_args_is_help=True,
        rich_markup_mode="markdown",
        pretty_exceptions_enable=False,
    )
    app.callback()(main)
    for name in dict.fromkeys(COMMANDS.values()) if modules is None else modules:
        _register(app, name)
    return app


def run(args: Sequence[str] | None = None) -> None:
    """Run the command line on ``args`` (default: the process's), with the module of the
    command named first only; every module when none is (``--help``, ``--version``, shell
    completion, an unknown command: Typer's own message then lists the commands)."""
    args = sys.argv[1:] if args is None else list(args)
    module = COMMANDS.get(args[0]) if args else None
    command_line(None if module is None else [module])(args)


def run_process() -> None:
    """``run``, as the command's own process (the installed command, ``python -m``)."""
    try:
        run()
    finally:
        # At exit the interpreter clears its ~1,000 modules one by one, and the clearing sets
        # off collections that walk every object they hold: ~0.2 CPU-s and as much wall time
        # at the end of every command. Frozen, they are not walked (they die with the process).
        gc.freeze()


if TYPE_CHECKING:
    app: typer.Typer


def __getattr__(name: str) -> Any:
    # The whole command line, built when first asked for (``from consentry.cli.main import
    # app``): not when this module is imported to run one command, nor as a worker's
    # ``__mp_main__``.
    if name == "app":
        whole = command_line()
        globals()["app"] = whole
        return whole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    run_process()
