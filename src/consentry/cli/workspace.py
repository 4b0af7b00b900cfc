"""``consentry init``: create a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from consentry.cli.common import WorkspaceOption, console, handle_errors
from consentry.db_urls import redact
from consentry.workspace import Workspace


@handle_errors
def init(
    workspace: WorkspaceOption = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="Database URL: sqlite:///path/ledger.db (default, inside the workspace) or "
            "postgresql://user@host:5432/db [env: CONSENTRY_DB].",
            show_default=False,
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Policy file to start from (default: the shipped opt-in policy).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Create a workspace: ledger database, policy, secret and content folders.

    Example: `consentry init --db postgresql://postgres@127.0.0.1:5432/test`
    """
    ws = Workspace.init(workspace, db_url=db, policy=policy)
    console.print(f"Created workspace [bold]{ws.root}[/]")
    console.print(f"  ledger   {redact(ws.db_url)}")
    console.print(f"  policy   {ws.policy_path}")
    console.print(f"  secret   {ws.secret_path} (mode 0600; never printed)")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
