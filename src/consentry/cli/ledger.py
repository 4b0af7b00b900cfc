"""``consentry ledger …``: the head, and proof that history was not rewritten."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

from consentry.cli.common import (
    WorkspaceOption,
    console,
    handle_errors,
    open_workspace,
    progress_bar,
)
from consentry.errors import UsageError
from consentry.ledger import Position

app = typer.Typer(help="Inspect and verify the hash-chained ledger.", no_args_is_help=True)


@app.command()
@handle_errors
def head(workspace: WorkspaceOption = None) -> None:
    """Print the ledger's position: `SEQ:HASH`. Publish it; `verify --against` proves it later.

    Example: `consentry ledger head`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        console.print(str(ledger.head()), highlight=False, soft_wrap=True)


@app.command()
@handle_errors
def verify(
    against: Annotated[
        str | None,
        typer.Option(
            help="A head published earlier (SEQ:HASH): prove history up to it was not rewritten."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Walk the whole chain; exit non-zero naming the first bad entry if any entry was altered,
    removed, reordered or inserted.

    Example: `consentry ledger verify --against 1200:9f86d08…`
    """
    published = None
    if against is not None:
        try:
            published = Position.parse(against)
        except ValueError as exc:
            raise UsageError(f"--against: {exc}") from None
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        total = ledger.count()
        with progress_bar(
            "verifying", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
        ) as progress:
            task = progress.add_task("verify", total=total)
            report = ledger.verify(published, progress=lambda n: progress.advance(task, n))
    console.print(
        f"[green]ok[/]: {report.entries} entries verify; head {report.head}",
        highlight=False,
        soft_wrap=True,
    )
    if published is not None:
        console.print(f"history up to published head {published.seq} is intact", highlight=False)
