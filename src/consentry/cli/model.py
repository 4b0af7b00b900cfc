"""``consentry model …``: the platform's own models, the snapshots they were trained on, and
what withdrawals since then mean for them (docs/models.md). Licensees register theirs through
``POST /v1/models``."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from consentry.cli.common import (
    WorkspaceOption,
    console,
    fmt_time,
    handle_errors,
    open_workspace,
    parse_time,
    uncut,
)
from consentry.cli.compliance import scan
from consentry.models.exposure import exposure_of
from consentry.models.lineage import Models
from consentry.models.summary import summary_markdown, training_summary
from consentry.outputs import check_output_file, write_file

app = typer.Typer(
    help="Models trained on snapshots: lineage, exposure after withdrawals, AI Act summary.",
    no_args_is_help=True,
)
ModelArgument = Annotated[
    str, typer.Argument(help="The model: its id (m-…) or NAME@VERSION.", show_default=False)
]
HolderOption = Annotated[
    str | None,
    typer.Option(
        "--recipient", help="A licensee's model (its recipient) instead of the platform's own."
    ),
]


class SummaryFormat(StrEnum):
    json = "json"
    md = "md"


@app.command("register")
@handle_errors
def register_command(
    name: Annotated[str, typer.Argument(help="The model's name.", show_default=False)],
    version: Annotated[str, typer.Argument(help="Its version.", show_default=False)],
    snapshot: Annotated[
        list[str], typer.Option("--snapshot", "-s", help="A snapshot it was trained on (repeat).")
    ],
    trained_at: Annotated[
        str | None, typer.Option(help="When it was trained, RFC 3339 (default: now).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Record a model the platform trained on its internal snapshots. Registering the same
    name and version again with the same snapshots and time does nothing.

    Example: `consentry model register assistant 2026.12 -s snap_94326feaa965a8464e6d`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        model = Models(ledger).register(
            None, name, version, snapshot, parse_time(trained_at, option="--trained-at")
        )
    console.print(
        f"model {model.name} {model.version} registered as {model.model_id}:"
        f" {len(model.snapshots)} snapshot(s), {sum(d.records for d in model.snapshots):,}"
        " records",
        highlight=False,
    )


@app.command("list")
@handle_errors
def list_command(
    recipient: HolderOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List the platform's models (or a licensee's, with --recipient), oldest first per name.

    Example: `consentry model list`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        found = Models(ledger).held_by(recipient)
    if json_output:
        print(json.dumps([m.to_json() for m in found], indent=2))
        return
    if not found:
        console.print("No model registered.")
        return
    table = Table("id", "name", "version", "trained", "snapshots", "records", "retired", box=None)
    for m in found:
        table.add_row(
            m.model_id,
            m.name,
            m.version,
            fmt_time(m.trained_at),
            f"{len(m.snapshots)}",
            f"{sum(d.records for d in m.snapshots):,}",
            fmt_time(m.retired) if m.retired else "",
        )
    console.print(uncut(table, "id"))


@app.command("show")
@handle_errors
def show_command(
    model: ModelArgument,
    recipient: HolderOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Print a model as JSON: name, version, training time and the snapshots it saw.

    Example: `consentry model show assistant@2026.12`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        found = Models(ledger).get(recipient, model)
    print(json.dumps(found.to_json(), indent=2))


@app.command("exposure")
@handle_errors
def exposure_command(
    model: ModelArgument,
    recipient: HolderOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON, every record.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Show the records MODEL was trained on that were since withdrawn, deleted or erased:
    per reason, how many records and accounts, since when, and the deadline to retrain or
    unlearn (policy `[models] retrain_within_days`). Exits 1 when it is overdue.

    Example: `consentry model exposure assistant@2026.12`
    """
    ws = open_workspace(workspace)
    days = ws.policy().retrain_within_days
    with ws.ledger() as ledger:
        scan(ws, ledger, quiet=True)
        found = exposure_of(ledger, Models(ledger).get(recipient, model), days)
    if json_output:
        print(json.dumps(found.to_json(), indent=2))
    elif not found.groups:
        console.print(f"Model {found.model.model_id}: no record it saw was withdrawn or deleted.")
    else:
        table = Table("reason", "records", "accounts", "since", box=None)
        for g in found.groups:
            table.add_row(g.reason, f"{g.records:,}", f"{g.accounts:,}", fmt_time(g.since))
        console.print(table)
        assert found.deadline is not None
        state = (
            f"retired {fmt_time(found.model.retired)}"
            if found.model.retired
            else ("OVERDUE" if found.overdue() else "to retrain or unlearn")
        )
        console.print(
            f"{found.records:,} record(s) of {found.accounts:,} account(s);"
            f" deadline {fmt_time(found.deadline)} ({state})",
            highlight=False,
        )
    if found.overdue():
        raise typer.Exit(1)


@app.command("summary")
@handle_errors
def summary_command(
    model: ModelArgument,
    output_format: Annotated[
        SummaryFormat, typer.Option("--format", help="json, or md (Markdown) to publish.")
    ] = SummaryFormat.md,
    out: Annotated[
        Path | None, typer.Option(help="Write it here (default: standard output).")
    ] = None,
    recipient: HolderOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the parts of the EU AI Act public summary of training content (art. 53(1)(d),
    the AI Office's template) that the snapshots' manifests fill: the model, the text size,
    the user-data section, and how opt-outs and exclusions were honoured (counts per reason
    code, ledger positions). The parts only the provider knows are listed, not guessed.

    Example: `consentry model summary assistant@2026.12 --format md --out summary.md`
    """
    ws = open_workspace(workspace)
    if out is not None:
        check_output_file(out, role="--out", workspace=ws.root)
    with ws.ledger() as ledger:
        scan(ws, ledger, quiet=True)
        found = Models(ledger).get(recipient, model)
        summary = training_summary(found, exposure_of(ledger, found))
    text = (
        json.dumps(summary, indent=2) + "\n"
        if output_format is SummaryFormat.json
        else summary_markdown(summary)
    )
    if out is None:
        sys.stdout.write(text)
    else:
        write_file(out, lambda fh: fh.write(text.encode()))
        console.print(f"summary written to {out}")


@app.command("retire")
@handle_errors
def retire_command(
    model: ModelArgument,
    recipient: HolderOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Mark MODEL retired: retrained without its exposed records, or those unlearned. Its
    exposure stays on record; it is no longer overdue.

    Example: `consentry model retire assistant@2026.12`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        found = Models(ledger).retire(recipient, model)
    assert found.retired is not None
    console.print(f"model {found.model_id} retired {fmt_time(found.retired)}", highlight=False)
