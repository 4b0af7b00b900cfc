"""The ``consentry`` command line. Each group of commands lives in its own module.

Imported under the name ``__mp_main__`` (what multiprocessing does with the main module of the
process that starts its workers: a build's ``--workers`` run with ``python -m
consentry.cli.main``), it defines no command and imports none of the groups: a worker needs
none of them, and importing them all cost ~0.7 CPU-s per worker, a tenth of a 2,000,000-post
build. ``consentry.__main__`` is the installed command's light entry for the same reason.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated

import typer

#: The name multiprocessing gives the parent's main module when a worker imports it.
WORKER_MAIN = "__mp_main__"


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


def command_line() -> typer.Typer:
    """The ``consentry`` command, every group of commands registered."""
    from consentry.cli import (
        compliance,
        consent,
        demo,
        importing,
        ledger,
        model,
        policy,
        report,
        scrub,
        service,
        signals,
        snapshot,
        sync,
        workspace,
    )

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
    workspace.register(app)
    app.add_typer(consent.app, name="consent")
    app.add_typer(ledger.app, name="ledger")
    app.add_typer(policy.app, name="policy")
    app.add_typer(snapshot.app, name="snapshot")
    # Command groups added by other modules register here, one line each:
    # (importers, demo, scrub, snapshot)
    app.command("scrub")(scrub.scrub_command)
    app.command("sync")(sync.sync_command)
    app.add_typer(importing.app, name="import")
    app.add_typer(demo.app, name="demo")
    compliance.register(app)
    service.register(app)
    app.add_typer(signals.app, name="signals")
    app.add_typer(model.app, name="model")
    report.register(app)
    return app


app: typer.Typer
if __name__ != WORKER_MAIN:
    app = command_line()


if __name__ == "__main__":
    app()
