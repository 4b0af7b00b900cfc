"""What every command shares: the workspace option, the console, and error → exit code mapping."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, ProgressColumn

from consentry.errors import ConsentryError
from consentry.times import parse_rfc3339
from consentry.workspace import ENV_SECRET, Workspace

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder [env: CONSENTRY_WORKSPACE; default: ./.consentry].",
        show_default=False,
    ),
]


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn Consentry's named errors into a clear message and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConsentryError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def open_workspace(root: Path | None) -> Workspace:
    return Workspace.open(root)


def secret_source(ws: Workspace) -> str:
    """Where ``ws.secret()`` reads the secret from, for messages (never the secret itself)."""
    return ENV_SECRET if ENV_SECRET in os.environ else str(ws.secret_path)


def parse_time(text: str | None, *, option: str = "--at") -> datetime:
    """RFC 3339 time with offset (``Z`` allowed), or now when not given."""
    if text is None:
        return datetime.now(UTC)
    return parse_rfc3339(text, what=option)


def fmt_time(t: datetime) -> str:
    """Compact UTC time for tables: 2024-07-27 08:00:00Z."""
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def progress_bar(*columns: str | ProgressColumn) -> Progress:
    """A progress bar on standard error, shown only on a terminal and gone when done."""
    return Progress(*columns, console=err_console, disable=not is_terminal(), transient=True)


def is_terminal() -> bool:
    return sys.stderr.isatty()
