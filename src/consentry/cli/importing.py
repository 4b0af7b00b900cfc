"""``consentry import …``: bring platform data into the workspace.

Every importer ends the same way (``report_import``): a table of rows read / imported /
unchanged / rejected per file, the quarantine file, the ledger head, and the exit code — non-zero
only when nothing could be read, when a file could not be read to its end (a truncated ``.zst``),
or with ``--strict`` when anything was rejected. Adding an
importer is one command function: parse the path, call the library's ``import_…`` inside
``importing(...)``, pass the report to ``report_import``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from consentry.cli.common import (
    WorkspaceOption,
    console,
    err_console,
    handle_errors,
    open_workspace,
    progress_bar,
    uncut,
)
from consentry.cli.compliance import scan
from consentry.cores import every_core
from consentry.errors import ImportDataError
from consentry.platform.canonical import export_size, import_canonical
from consentry.platform.ingest import DEFAULT_MAX_TEXT_CHARS, import_workers
from consentry.platform.lines import ZSTD_MAX_WINDOW
from consentry.platform.mastodon import import_mastodon, mastodon_size
from consentry.platform.reddit import import_reddit, reddit_size
from consentry.platform.report import ImportReport
from consentry.platform.x_archive import import_x_archive, x_archive_size
from consentry.workspace import Workspace

app = typer.Typer(
    help="Import platform data: accounts, content, interactions and consent.",
    no_args_is_help=True,
)

StrictOption = Annotated[
    bool,
    typer.Option("--strict", help="Import nothing and exit non-zero if any row is rejected."),
]
MaxTextOption = Annotated[
    int,
    typer.Option(
        "--max-text-chars",
        min=1,
        help="Longest text accepted, in characters (X Premium allows 25,000).",
    ),
]

WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Processes for the parallel steps (default: every core); 1 runs in this process "
        "alone. The workspace ends up with the same bytes either way.",
        show_default=False,
    ),
]


@contextmanager
def importing(what: str, total_bytes: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal (bytes when the size is known, a spinner otherwise);
    yields the callback an importer advances it with."""
    columns = (
        [
            TextColumn(what),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        ]
        if total_bytes
        else [SpinnerColumn(), TextColumn(what), TimeElapsedColumn()]
    )
    with progress_bar(*columns) as progress:
        task = progress.add_task(what, total=total_bytes)
        yield lambda n: progress.advance(task, n)


def _workers(chosen: int | None) -> int:
    return every_core() if chosen is None else chosen


def report_import(report: ImportReport) -> None:
    """Print what an import did; exit non-zero when the import failed (see module docstring).

    Only (file, kind) pairs that had rows are listed (``Ingest.finish`` makes no others);
    ``read = imported + unchanged + rejected`` holds on every row and on the total."""
    table = Table(title=f"import {report.import_id} ({report.source})", title_justify="left")
    table.add_column("file")
    table.add_column("kind")
    for name in ("read", "imported", "unchanged", "rejected"):
        table.add_column(name, justify="right")
    for (file, kind), c in report.entries.items():
        table.add_row(
            file, kind, f"{c.read:,}", f"{c.imported:,}", f"{c.unchanged:,}", f"{c.rejected:,}"
        )
    t = report.total
    table.add_section()
    table.add_row(
        "total", "", f"{t.read:,}", f"{t.imported:,}", f"{t.unchanged:,}", f"{t.rejected:,}"
    )
    console.print(uncut(table, "file"))
    if t.updated or t.deleted:
        console.print(f"of which {t.updated:,} new versions, {t.deleted:,} deletions recorded")
    for (file, field, reason), w in report.warnings.items():
        where = f"{file}" + (f":{w.first_line}" if w.first_line is not None else "")
        console.print(
            f"warning: {where}: {field + ': ' if field else ''}{reason} ({w.count:,}×; kept)",
            highlight=False,
            soft_wrap=True,
        )
    if report.quarantine is not None:
        console.print(f"rejected rows (with file, line, field and reason): {report.quarantine}")
    if report.ledger_head is not None:
        console.print(
            f"ledger: {report.ledger_appended:,} entries appended, head {report.ledger_head}",
            highlight=False,
            soft_wrap=True,
        )
    for notice in report.notices:
        err_console.print(
            f"[bold yellow]warning:[/] {escape(notice)}", highlight=False, soft_wrap=True
        )
    for file, reason in report.incomplete.items():
        err_console.print(
            f"[bold red]error:[/] {file} was not read to its end: {reason}",
            highlight=False,
            soft_wrap=True,
        )
    if not report.committed:
        err_console.print(
            f"[bold red]error:[/] --strict: {t.rejected:,} row(s) rejected, nothing was imported"
        )
        raise typer.Exit(ImportDataError.exit_code)
    if report.nothing_read:
        err_console.print("[bold red]error:[/] nothing could be read from the input")
        raise typer.Exit(ImportDataError.exit_code)
    if report.incomplete:
        err_console.print(
            f"[bold red]error:[/] {len(report.incomplete):,} file(s) not read to their end; "
            "what came before was imported"
        )
        raise typer.Exit(ImportDataError.exit_code)


def scan_after_import(ws: Workspace) -> None:
    """Deleted items and changed accounts reach the recipients holding them at once."""
    with ws.ledger() as ledger:
        scan(ws, ledger)


@app.command()
@handle_errors
def canonical(
    folder: Annotated[
        Path, typer.Argument(help="Export folder: accounts, content, consent (+ interactions).")
    ],
    strict: StrictOption = False,
    max_text_chars: MaxTextOption = DEFAULT_MAX_TEXT_CHARS,
    workers: WorkersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Import a canonical export: `accounts`, `content`, `consent` and optionally
    `interactions`, each `.jsonl` or `.parquet`. Re-importing the same export changes nothing.

    Example: `consentry import canonical ./export --workers 2`
    """
    ws = open_workspace(workspace)
    size = export_size(folder)
    with import_workers(_workers(workers)), importing("importing", size) as progress:
        report = import_canonical(
            ws, folder, strict=strict, max_text_chars=max_text_chars, progress=progress
        )
    report_import(report)
    scan_after_import(ws)


# ---- personal archives and public dumps (x-archive, mastodon, reddit) ------------------------
# Each parses its format in consentry.platform.<format> and feeds the same ingest seam: only the
# path argument and the help differ.


def _archive_import(
    size: Callable[[Path], int],
    run: Callable[..., ImportReport],
    path: Path,
    strict: bool,
    max_text_chars: int,
    workspace: Path | None,
    workers: int | None,
) -> None:
    """What every archive importer command does: size the input for the progress bar, import
    through the ingest seam, print the read / imported / unchanged / rejected summary."""
    ws = open_workspace(workspace)
    with import_workers(_workers(workers)), importing("importing", size(path)) as progress:
        report = run(ws, path, strict=strict, max_text_chars=max_text_chars, progress=progress)
    report_import(report)
    scan_after_import(ws)


@app.command("x-archive")
@handle_errors
def x_archive(
    path: Annotated[
        Path, typer.Argument(help="The archive X sends (a .zip), or its extracted folder.")
    ],
    strict: StrictOption = False,
    max_text_chars: MaxTextOption = DEFAULT_MAX_TEXT_CHARS,
    workers: WorkersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Import an X (Twitter) account archive: its owner's account (`data/account.js`, with
    `ageinfo.js` and `protected-history.js` when present), tweets (`tweets.js`, `tweet.js`,
    `tweets-part1.js` …, `deleted-tweets.js`), likes (`like.js`) and direct messages
    (`direct-messages.js`, imported as `dm` items so that their exclusion is recorded).

    The `window.YTD… = [ … ]` files are parsed as data, never executed. Retweets become
    reposts, replies keep their parent, the mentions X lists are kept. An archive carries no
    consent: record its owner's choices with `consentry consent`. Messages written by the other
    person of a conversation are imported only when their account is already known (e.g. from
    the platform's canonical export); otherwise they are rejected as from an unknown author.

    Rejected rows are quarantined with the file inside the archive, the line the element
    starts on, the field and the reason.

    Example: `consentry import x-archive ~/Downloads/twitter-2024-01-15-1a2b3c.zip`
    """
    _archive_import(
        x_archive_size, import_x_archive, path, strict, max_text_chars, workspace, workers
    )


@app.command()
@handle_errors
def mastodon(
    path: Annotated[
        Path,
        typer.Argument(
            help="A Mastodon account export (.zip or folder): outbox.json + actor.json."
        ),
    ],
    strict: StrictOption = False,
    max_text_chars: MaxTextOption = DEFAULT_MAX_TEXT_CHARS,
    workers: WorkersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Import a Mastodon account export: the actor becomes the account (a locked account is
    protected), `Create` activities become posts or replies (HTML turned into plain text) and
    `Announce` activities reposts. Ids are the ActivityPub URIs.

    Visibility, where only public posts are public: *public* → `public`; *unlisted* →
    `followers`, because its author kept it out of public timelines, search and discovery, and
    followers are who Mastodon shows it to; *followers-only* → `followers`; *direct* → a `dm`
    item with visibility `direct`.

    Other activity types (`Like`, `Follow`, …) are rejected with field `type`, so they are
    counted and quarantined rather than dropped silently. A quarantined row's line is the
    activity's position in the outbox, from 1.

    Example: `consentry import mastodon ~/Downloads/archive-20240302.zip`
    """
    _archive_import(
        mastodon_size, import_mastodon, path, strict, max_text_chars, workspace, workers
    )


@app.command()
@handle_errors
def reddit(
    path: Annotated[
        Path,
        typer.Argument(
            help="A Pushshift-style dump (.jsonl, .ndjson or .zst), or a folder of them."
        ),
    ],
    strict: StrictOption = False,
    max_text_chars: MaxTextOption = DEFAULT_MAX_TEXT_CHARS,
    max_zstd_window: Annotated[
        int,
        typer.Option(
            "--max-zstd-window",
            min=1,
            help="Largest zstandard window accepted, in MiB: memory the decoder may hold. "
            "Pushshift and Arctic Shift dumps need 2048 (--long=31).",
        ),
    ] = ZSTD_MAX_WINDOW >> 20,
    workers: WorkersOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Import Reddit comments and submissions in the Pushshift layout: one JSON object per
    line, plain or zstandard-compressed (any size: read as a stream, with the 2 GiB window
    Pushshift uses).

    Submissions become posts (title, then self text or link) and comments replies; ids keep
    Reddit's `t3_`/`t1_` prefixes. Authors become accounts `reddit:<name>`. `[deleted]` and
    `[removed]` bodies or authors become deleted content, deleted when Pushshift retrieved it;
    items whose author is `[deleted]` all belong to one placeholder account, `reddit:[deleted]`,
    whose status is `deleted`.

    A frame whose window is over `--max-zstd-window` is refused naming the file; a truncated
    `.zst` keeps the lines before the cut and exits non-zero, saying the file is truncated.

    Example: `consentry import reddit ./dumps/RC_2023-10.zst`
    """
    run = partial(import_reddit, max_window=max_zstd_window << 20)
    _archive_import(reddit_size, run, path, strict, max_text_chars, workspace, workers)
