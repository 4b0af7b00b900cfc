"""What every command shares: the workspace option, the console, and error → exit code mapping."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, ProgressColumn
from rich.table import Table
from rich.text import Text

from consentry.errors import ConsentryError, UsageError
from consentry.ids import check_id
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


def _account_id(value: str) -> str:
    # An account id enters here as it does through a token or an import: by the same rule, so a
    # NUL or a 100 KB id is refused alike on every backend instead of reaching the database.
    try:
        return check_id(value)
    except UsageError as exc:
        raise typer.BadParameter(str(exc)) from None


def account_argument(help: str = "Account id.") -> typer.models.ArgumentInfo:
    """The ACCOUNT argument of a command: checked by the importers' id rule."""
    return typer.Argument(help=help, callback=_account_id)  # type: ignore[no-any-return]


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn Consentry's named errors into a clear message and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConsentryError as exc:
            # Messages quote user input and TOML tables (``[signals]``): never read as markup.
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
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


def uncut(table: Table, *id_columns: str) -> Table:
    """``table`` with no cell cut short ("…"): a long cell folds onto more lines, and the
    ``id_columns`` (by header) stay whole on one line, to be copied, when the terminal is wide
    enough for them and a few characters of every other column. Call after adding rows."""
    ids = [c for c in table.columns if c.header in id_columns]
    widths = sum(max((_cell_len(cell) for cell in c.cells), default=0) for c in ids)
    others = len(table.columns) - len(ids)
    # Rich shrinks only columns that may wrap to fit the terminal, then, as a last resort,
    # every column, cropping those that may not: ids are kept from wrapping only with room.
    room = widths + others * _MIN_OTHER + 3 * len(table.columns) + 1 <= console.width
    for column in table.columns:
        column.overflow = "fold"
        column.no_wrap = room and column in ids
    return table


#: Width left to each column beside ids kept whole.
_MIN_OTHER: Final = 4


def _cell_len(cell: object) -> int:
    if isinstance(cell, str):
        return Text.from_markup(cell).cell_len
    return cell.cell_len if isinstance(cell, Text) else 0


def progress_bar(*columns: str | ProgressColumn) -> Progress:
    """A progress bar on standard error, shown only on a terminal and gone when done."""
    return Progress(*columns, console=err_console, disable=not is_terminal(), transient=True)


def is_terminal() -> bool:
    return sys.stderr.isatty()
