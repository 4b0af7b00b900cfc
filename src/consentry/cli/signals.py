"""``consentry signals …``: each person's choice, published for crawlers (docs/signals.md).

``robots`` and ``tdmrep`` write the files a platform serves (to standard output, or with
``--out`` to a file, written under a fresh name and renamed into place); ``show`` prints one
account's signals as ``GET /v1/signals/{account}`` returns them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from consentry.cli.common import (
    WorkspaceOption,
    account_argument,
    err_console,
    handle_errors,
    open_workspace,
)
from consentry.content.store import ContentStore
from consentry.errors import UsageError
from consentry.outputs import check_output_file, write_file
from consentry.signals import load_signals_config, published, write_robots, write_tdmrep
from consentry.signals.published import Published
from consentry.signals.report import account_signals

app = typer.Typer(
    help="Publish each person's AI-use choice for crawlers: robots.txt, tdmrep.json, headers.",
    no_args_is_help=True,
)

OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write here (default: standard output).")
]


def _write(out: Path | None, ws_root: Path, write: Callable[[BinaryIO], int]) -> int:
    if out is None:
        count = write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return count
    check_output_file(out, role="--out", workspace=ws_root)
    # 0644: a file to publish, readable by the web server that serves it to crawlers.
    return write_file(out, write, mode=0o644)


def _publish(
    out: Path | None,
    workspace: Path | None,
    writer: Callable[[Published, BinaryIO], int],
    what: str,
) -> None:
    """Every account's signals as of the head, written by ``writer`` to ``out`` or stdout."""
    ws = open_workspace(workspace)
    config = load_signals_config(ws)
    if out is not None:
        check_output_file(out, role="--out", workspace=ws.root)  # before the ledger is read
    with ws.ledger() as ledger:
        pub = published(ledger, ws.policy(), config, ContentStore(ws.content_dir))
    count = _write(out, ws.root, lambda fh: writer(pub, fh))
    if out is not None:
        err_console.print(f"{count:,} {what} for {len(pub):,} accounts written to {out}")


@app.command()
@handle_errors
def robots(out: OutOption = None, workspace: WorkspaceOption = None) -> None:
    """Write a robots.txt holding every account's choice: a `User-Agent: *` group with the
    opt-in default, then per account and kind of page a `Content-Usage:` rule and its
    `Content-Signal:` line, as of the ledger's head.

    Example: `consentry signals robots --out /srv/www/robots.txt`
    """
    _publish(out, workspace, write_robots, "rules")


@app.command()
@handle_errors
def tdmrep(out: OutOption = None, workspace: WorkspaceOption = None) -> None:
    """Write `/.well-known/tdmrep.json` (W3C TDMRep): per account and kind of page, whether
    text and data mining rights are reserved, as of the ledger's head.

    Example: `consentry signals tdmrep --out /srv/www/.well-known/tdmrep.json`
    """
    _publish(out, workspace, write_tdmrep, "entries")


@app.command()
@handle_errors
def show(
    account: Annotated[str, account_argument("The account.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Print ACCOUNT's signals as JSON: the `Content-Usage` value, the `Content-Signal` line,
    the TDMRep reservation, the headers its pages carry, and the ledger position.

    Example: `consentry signals show 1001`
    """
    ws = open_workspace(workspace)
    config = load_signals_config(ws)
    with ws.ledger() as ledger:
        found = account_signals(ledger, ws.policy(), config, account)
    if found is None:
        raise UsageError(f"the ledger knows no account {account!r}")
    sys.stdout.write(json.dumps(found, indent=2) + "\n")
