"""``consentry sync``: the licensee's side, over ``consentry.client``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from consentry.cli.common import console, err_console, handle_errors
from consentry.client import sync as client_sync
from consentry.client.sync import Progress as SyncProgress


class _Bars(SyncProgress):
    """One Rich bar per file, on standard error."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars
        self.task: TaskID | None = None

    def file(self, name: str, total: int) -> None:
        if self.task is None:
            self.task = self.bars.add_task(name, total=total or None)
        else:
            self.bars.update(self.task, description=name, total=total or None, completed=0)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.bars.advance(self.task, n)

    def done(self, name: str) -> None:
        if self.task is not None:
            self.bars.remove_task(self.task)
            self.task = None

    def note(self, text: str) -> None:
        self.bars.console.print(text, highlight=False)


@handle_errors
def sync_command(
    server: Annotated[
        str, typer.Option(help="The Consentry service's base URL.", show_default=False)
    ],
    key: Annotated[
        str,
        typer.Option(
            help="Your licensee API key (or the CONSENTRY_KEY variable).",
            envvar="CONSENTRY_KEY",
            show_default=False,
        ),
    ],
    folder: Annotated[
        Path,
        typer.Option("--dir", help="Your local copy: one folder per snapshot.", show_default=False),
    ],
) -> None:
    """Download the snapshots delivered to you (resumably, each file checked against the
    manifest's SHA-256 and Merkle root), then apply the compliance events since the last run:
    the records named are removed from your copy, journaled in DIR/.consentry-sync/journal.jsonl,
    and acknowledged with a deletion attestation. Safe to rerun, or to kill and rerun.

    Exits 13 on a bad key, 12 when the server is down, 9 on a checksum mismatch.

    Example: `consentry sync --server https://consent.example.com --key $KEY --dir ./snapshots`
    """
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        transient=True,
    ) as bars:
        result = client_sync(server, key, folder, _Bars(bars))
    console.print(
        f"{len(result.downloaded)} snapshot(s) downloaded, {result.events:,} event(s) applied "
        f"({result.removed:,} row(s) removed), {len(set(result.attested))} attestation(s) "
        f"accepted; cursor {result.cursor}",
        highlight=False,
    )
