"""``consentry report``: the operator's report (consent over time, snapshots, recipients,
erasures, models, ledger health, the GDPR art. 30 record), as JSON, HTML or PDF."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from consentry.cli.common import WorkspaceOption, console, handle_errors, open_workspace
from consentry.errors import UsageError
from consentry.outputs import check_output_file, write_file
from consentry.times import parse_rfc3339


class Format(StrEnum):
    JSON = "json"
    HTML = "html"
    PDF = "pdf"


def parse_since(text: str | None) -> datetime | None:
    """A day (``2024-07-01``, midnight UTC) or an RFC 3339 time."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return parse_rfc3339(text, what="--since")
    if len(text) != 10:  # fromisoformat takes 20240701 too: a time, by what people write
        return parse_rfc3339(text, what="--since")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def report_command(
    out: Annotated[
        Path | None,
        typer.Option(help="Write the report here (default: standard output; needed for pdf)."),
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", help="json (figures), html (one page) or pdf.")
    ] = Format.JSON,
    since: Annotated[
        str | None,
        typer.Option(help="Only what happened since then: a day (2024-07-01) or RFC 3339 time."),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of html and pdf: en or fr.")] = "en",
    ropa: Annotated[
        bool,
        typer.Option("--ropa", help="Only the GDPR art. 30 record of processing activities."),
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify",
            help="Walk the ledger's chain and re-check every snapshot's files first.",
        ),
    ] = True,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the operator's report: consent per purpose, scope and country and week by week,
    every snapshot (internal or delivered) with its exclusions and PII replaced, recipients and
    their compliance, erasures, models, the ledger's health, and the GDPR art. 30 record.

    Its figures are those `snapshot list`, `recipient list`, `compliance overdue` and
    `ledger verify` print. The console at /admin (`consentry serve`) shows the same.

    Example: `consentry report --format pdf --out report.pdf --since 2024-07-01 --lang fr`
    """
    # Here, not at the top: the report's libraries (Altair, Jinja2, WeasyPrint, the web's
    # catalogues) would otherwise load with every other command, and in every build worker.
    from consentry.report import Options, gather, record_of_processing, verify_and_record
    from consentry.web.i18n import LANGUAGES

    if lang not in LANGUAGES:
        raise UsageError(f"--lang {lang!r}: use one of {', '.join(LANGUAGES)}")
    ws = open_workspace(workspace)
    if out is not None:
        check_output_file(out, role="--out", workspace=ws.root)
    elif output_format is Format.PDF:
        raise UsageError("--format pdf needs --out FILE (a PDF is not for a terminal)")
    start = parse_since(since)
    with ws.ledger() as ledger:
        if ropa:
            data: dict[str, Any] = {
                "ropa": record_of_processing(ws, ledger, ws.policy()),
                "generated": datetime.now(UTC).isoformat(),
                "head": {"seq": ledger.head().seq, "hash": ledger.head().hash},
                "since": None,
            }
        else:
            if verify:
                checked = verify_and_record(ws, ledger)
                if not checked["ok"]:
                    console.print(f"[red]ledger verification failed[/]: {checked['problem']}")
            data = gather(ws, ledger, Options(since=start, verify_snapshots=verify))
    payload = _render(data, output_format, lang, ropa=ropa)
    if out is None:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return
    write_file(out, lambda fh: fh.write(payload))
    console.print(f"report written to {out}")


def _render(data: dict[str, Any], output_format: Format, lang: str, *, ropa: bool) -> bytes:
    from consentry.report import document

    if output_format is Format.JSON:
        doc = data["ropa"] if ropa else data
        return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if output_format is Format.HTML:
        return document.html(data, lang, ropa=ropa).encode("utf-8")
    return document.pdf(data, lang, ropa=ropa)


def register(app: typer.Typer) -> None:
    app.command("report")(handle_errors(report_command))
