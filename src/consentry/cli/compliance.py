"""``consentry recipient …``, ``compliance …``, ``erase``, ``whereis``, ``export``: who holds what,
and how withdrawals, deletions and erasure reach them."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from consentry.cli.common import (
    WorkspaceOption,
    account_argument,
    console,
    err_console,
    fmt_time,
    handle_errors,
    open_workspace,
    parse_time,
    uncut,
)
from consentry.compliance.deliveries import Deliveries
from consentry.compliance.erasure import erase
from consentry.compliance.feed import DEFAULT_PAGE, MAX_EVENT_ID, MAX_PAGE, ComplianceFeed
from consentry.compliance.recipients import (
    DEFAULT_ACK_DAYS,
    MAX_ACK_DAYS,
    Recipients,
    holder_key,
)
from consentry.compliance.scanner import Scanner, ScanResult
from consentry.compliance.whereis import export_report, where_is
from consentry.content.store import ContentStore
from consentry.errors import UsageError
from consentry.ledger import LedgerStore
from consentry.models.exposure import overdue_models
from consentry.outputs import check_output_file, write_file
from consentry.workspace import Workspace

recipients_app = typer.Typer(
    help="Third parties that snapshots are delivered to.", no_args_is_help=True
)
compliance_app = typer.Typer(
    help="Compliance events: what each recipient must delete, and whether it acknowledged.",
    no_args_is_help=True,
)


def scan(ws: Workspace, ledger: LedgerStore, *, quiet: bool = False) -> ScanResult:
    """Emit the compliance events of everything recorded since the last scan. Commands that
    change consent, content or accounts call it, so that events follow the change at once."""
    result = Scanner(ledger, ContentStore(ws.content_dir), ws.policy(), ws.secret()).run()
    if result.total and not quiet:
        per = ", ".join(f"{n:,} to {r}" for r, n in sorted(result.per_recipient.items()))
        console.print(f"compliance: {result.total:,} deletion event(s) emitted ({per})")
    return result


# ---- recipients ----------------------------------------------------------------------------------


@recipients_app.command("add")
@handle_errors
def recipient_add(
    name: Annotated[str, typer.Argument(help="Short name: lower-case letters, digits, . _ -")],
    contact: Annotated[
        str | None, typer.Option(help="Email address for compliance notices.")
    ] = None,
    ack_days: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_ACK_DAYS, help="Days the recipient has to acknowledge an event."
        ),
    ] = DEFAULT_ACK_DAYS,
    workspace: WorkspaceOption = None,
) -> None:
    """Register a recipient, so that snapshots can be built for it and it can be told what to
    delete.

    Example: `consentry recipient add acme-ai --contact dpo@acme.example --ack-days 30`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        r = Recipients(ledger).add(name, contact, ack_days)
    console.print(f"Recipient {r.name} added (acknowledgement within {r.ack_days} days)")


@recipients_app.command("list")
@handle_errors
def recipient_list(workspace: WorkspaceOption = None) -> None:
    """List recipients with their deadline, snapshots delivered and events pending.

    Example: `consentry recipient list`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        found = Recipients(ledger).list()
        feed = ComplianceFeed(ledger)
        deliveries = Deliveries(ledger)
        table = Table("recipient", "contact", "ack days", "snapshots", "pending events", box=None)
        for r in found:
            table.add_row(
                r.name,
                r.contact or "",
                str(r.ack_days),
                str(len(deliveries.for_recipient(r.name))),
                f"{feed.pending(r.name):,}",
            )
    if not found:
        console.print("No recipients yet (add one with `consentry recipient add NAME`).")
        return
    console.print(uncut(table, "recipient"))


@recipients_app.command("show")
@handle_errors
def recipient_show(
    name: Annotated[str, typer.Argument(help="The recipient.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Show a recipient: its details, every snapshot delivered to it, and its compliance state.

    Example: `consentry recipient show acme-ai`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        r = Recipients(ledger).get(name)
        feed = ComplianceFeed(ledger)
        doc = {
            **r.to_json(),
            "snapshots": [d.to_json() for d in Deliveries(ledger).for_recipient(name)],
            "acknowledged_through": feed.acknowledged(name),
            "pending_events": feed.pending(name),
        }
    if json_output:
        print(json.dumps(doc, indent=2))
        return
    console.print(
        f"[bold]{r.name}[/]  contact {r.contact or '-'}, acknowledges within {r.ack_days} days,"
        f" added {fmt_time(r.created)}",
        highlight=False,
    )
    table = Table("snapshot", "purpose", "delivered", "ledger entry", "records", box=None)
    for d in doc["snapshots"]:
        table.add_row(
            d["snapshot_id"],
            d["purpose"],
            d["created"],
            str(d["ledger"]["seq"]),
            f"{d['records']:,}",
        )
    console.print(uncut(table, "snapshot"))
    console.print(
        f"events acknowledged through {doc['acknowledged_through']}, "
        f"{doc['pending_events']:,} pending",
        highlight=False,
    )


# ---- compliance feed -----------------------------------------------------------------------------


class FeedFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


RecipientOption = Annotated[
    str | None, typer.Option(help="Whose events: a recipient (or use --internal).")
]
InternalOption = Annotated[
    bool,
    typer.Option(
        "--internal",
        help="The events of the internal snapshots (built without --recipient), which the "
        "platform's own training team holds.",
    ),
]


def holder(recipient: str | None, internal: bool) -> str | None:
    """The feed asked for: a recipient's, or (None) the internal snapshots'."""
    if internal == (recipient is not None):
        raise UsageError("give either --recipient NAME or --internal")
    return recipient


@compliance_app.command("feed")
@handle_errors
def feed_command(
    recipient: RecipientOption = None,
    internal: InternalOption = False,
    since: Annotated[
        str | None,
        typer.Option(help="Cursor from an earlier page (default: after the last acknowledged)."),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_PAGE, help="Events per page.")
    ] = DEFAULT_PAGE,
    fmt: Annotated[FeedFormat, typer.Option("--format", help="Output format.")] = (
        FeedFormat.JSONL
    ),
    workspace: WorkspaceOption = None,
) -> None:
    """Print one page of a recipient's compliance events (or, with --internal, those of the
    internal snapshots) on standard output, and the cursor of the next page on standard error
    (`next-cursor: N`).

    Each event names a record the holder has (by its record id in the holder's snapshot) and
    must delete, the snapshot, the reason and when it was emitted. The internal snapshots have
    their own cursor and acknowledgements.

    Example: `consentry compliance feed --recipient acme-ai --since 120 --format csv`
    """
    who = holder(recipient, internal)
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        scan(ws, ledger, quiet=True)
        events, cursor = ComplianceFeed(ledger).page(who, since, limit)
    rows = [e.to_json() for e in events]
    if fmt is FeedFormat.JSONL:
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")
    else:
        fields = ["event_id", "snapshot_id", "table", "record_id", "account", "reason", "at"]
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    err_console.print(f"next-cursor: {cursor}", highlight=False)


@compliance_app.command("ack")
@handle_errors
def ack_command(
    through: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_EVENT_ID,
            help="Acknowledge every event up to this id.",
            show_default=False,
        ),
    ],
    recipient: RecipientOption = None,
    internal: InternalOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Record that a recipient (or, with --internal, the holder of the internal snapshots)
    deleted the records of its events up to THROUGH.

    Example: `consentry compliance ack --recipient acme-ai --through 1200`
    """
    who = holder(recipient, internal)
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        n = ComplianceFeed(ledger).ack(who, through)
    console.print(
        f"{holder_key(who)}: {n:,} event(s) newly acknowledged, through event {through}",
        highlight=False,
    )


@compliance_app.command("overdue")
@handle_errors
def overdue_command(
    at: Annotated[
        str | None,
        typer.Option(help="Judge deadlines as of this RFC 3339 time (default: now)."),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """List recipients, and the internal snapshots (deadline: 30 days), with events
    unacknowledged past their deadline, and models not retrained or unlearned within the
    policy's `[models] retrain_within_days` of an exposure; exits 1 when there are. A
    recipient's event acknowledged through the API without a deletion attestation of its
    snapshot (`consentry sync` sends one) is not done either: counted as unattested.

    Example: `consentry compliance overdue`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        scan(ws, ledger, quiet=True)
        late = ComplianceFeed(ledger).overdue(parse_time(at) if at else None)
        models = _overdue_models(ws, ledger, parse_time(at) if at else None)
    if not late and models is None:
        console.print("No overdue compliance events.")
        return
    table = Table(
        "recipient", "overdue events", "of which unattested", "oldest event", "deadline was",
        box=None,
    )  # fmt: skip
    for o in late:
        table.add_row(
            holder_key(o.recipient),
            f"{o.events:,}",
            f"{o.unattested:,}",
            fmt_time(o.oldest),
            fmt_time(o.deadline),
        )
    if late:
        console.print(uncut(table, "recipient"))
    if models is not None:
        console.print(models)
    raise typer.Exit(1)


def _overdue_models(ws: Workspace, ledger: LedgerStore, at: datetime | None) -> Table | None:
    """Models trained on records since withdrawn, deleted or erased, not retired within the
    policy's ``[models] retrain_within_days`` (docs/models.md); None when there are none."""
    late = overdue_models(ledger, ws.policy().retrain_within_days, at)
    if not late:
        return None
    table = Table("model", "holder", "exposed records", "since", "retrain by", box=None)
    for o in late:
        table.add_row(
            f"{o.model.name}@{o.model.version}",
            holder_key(o.model.recipient),
            f"{o.records:,}",
            fmt_time(o.since),
            fmt_time(o.deadline),
        )
    return uncut(table, "model")


@compliance_app.command("scan")
@handle_errors
def scan_command(workspace: WorkspaceOption = None) -> None:
    """Emit the events of everything recorded since the last scan (commands that change
    consent, content or accounts already do; run it after writing to the ledger otherwise).

    Example: `consentry compliance scan`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        result = scan(ws, ledger, quiet=True)
    entries = (
        f"ledger entries {result.ledger_from + 1}..{result.ledger_to}"
        if result.ledger_to > result.ledger_from
        else "no new ledger entries"
    )
    imports = (
        f"imports {result.imports_from + 1}..{result.imports_to}"
        if result.imports_to > result.imports_from
        else "no new imports"
    )
    console.print(f"scanned {entries}, {imports}: {result.total:,} event(s)", highlight=False)
    for reason, n in sorted(result.events.items()):
        console.print(f"  {n:,} {reason}", highlight=False)


# ---- data subjects -------------------------------------------------------------------------------


def erase_command(
    account: Annotated[str, account_argument("The account to erase.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Erase an account (GDPR art. 17): remove its content from the content store, record the
    erasure in the ledger, tell every recipient holding its records to delete them, and write
    an erasure certificate. Rerunning it finishes an interrupted erasure; on an account
    already erased it says so and keeps the certificate issued then.

    The ledger keeps the account id and its consent decisions as proof of past consent (see
    the README, "Erasure").

    Example: `consentry erase 1001 --yes`
    """
    ws = open_workspace(workspace)
    if not yes and not typer.confirm(f"Erase account {account} for good?"):
        raise typer.Exit(1)
    with ws.ledger() as ledger:
        done = erase(
            ledger,
            ContentStore(ws.content_dir),
            ws.policy(),
            ws.secret(),
            account,
            ws.certificates_dir,
            ws.quarantine_dir,
        )
    if done.already:
        console.print(
            f"Account {account} already erased at ledger entry"
            f" {done.certificate['ledger']['erasure_entry']} ({done.certificate['erased_at']});"
            " its certificate is kept as issued"
            + (f"; {done.scan.total:,} compliance event(s) emitted" if done.scan.total else ""),
            highlight=False,
        )
        console.print(f"certificate: {done.path}", highlight=False)
        return
    removed = done.certificate["removed_from_content_store"]["versions"]
    console.print(
        f"Account {account} erased at ledger entry {done.certificate['ledger']['erasure_entry']}:"
        f" {removed.get('items', 0):,} item version(s), {removed.get('interactions', 0):,}"
        f" interaction(s) removed; {len(done.certificate['snapshots'])} snapshot(s) held it;"
        f" {done.scan.total:,} compliance event(s) emitted",
        highlight=False,
    )
    console.print(f"certificate: {done.path}", highlight=False)


def whereis_command(
    account: Annotated[str, account_argument("The account.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List every snapshot holding ACCOUNT's records: purpose, recipient, date, records, and
    the deletion events sent and still unacknowledged (GDPR art. 15).

    Example: `consentry whereis 1001`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        scan(ws, ledger, quiet=True)
        found = where_is(ledger, account)
    if json_output:
        print(json.dumps(found.to_json(), indent=2))
        return
    if not found.snapshots:
        console.print(f"No snapshot holds records of account {account}.")
        return
    table = Table(box=None)
    # Ids fold on a narrow terminal; the other cells stay whole.
    table.add_column("snapshot", overflow="fold")
    for name in ("purpose", "recipient", "delivered", "records", "deletions", "pending"):
        table.add_column(name, no_wrap=True, min_width=len(name))
    for h in found.snapshots:
        table.add_row(
            h.snapshot_id,
            h.purpose,
            h.recipient or "(internal)",
            f"{h.delivered:%Y-%m-%d}",
            f"{h.records:,}",
            f"{h.deletion_events:,}",
            f"{h.pending_events:,}",
        )
    console.print(table)


def export_command(
    account: Annotated[str, account_argument("The account.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the report here (default: standard output).")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Write a machine-readable report (JSON) of everything known of ACCOUNT's consent and data
    flows: account state, consent history, current choices, snapshots, recipients, events.

    Example: `consentry export 1001 --out 1001-report.json`
    """
    ws = open_workspace(workspace)
    if out is not None:
        check_output_file(out, role="--out", workspace=ws.root)
    with ws.ledger() as ledger:
        scan(ws, ledger, quiet=True)
        report = export_report(ledger, account)
    text = json.dumps(report, indent=2, default=str) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        write_file(out, lambda fh: fh.write(text.encode()))
        console.print(f"report written to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(recipients_app, name="recipient")
    app.add_typer(compliance_app, name="compliance")
    app.command("erase")(handle_errors(erase_command))
    app.command("whereis")(handle_errors(whereis_command))
    app.command("export")(handle_errors(export_command))
