"""``consentry ledger …``: the head, one entry, and proof that history was not rewritten."""

from __future__ import annotations

import json
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
from consentry.ledger import LedgerEntry, Position

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


def entry_fields(entry: LedgerEntry) -> dict[str, object]:
    """One entry as flat fields, chain fields first. A field an entry does not carry (a consent
    entry's account attributes, a decision without scope, a payload an erasure dropped) is left
    out rather than shown empty; an account attribute set to "unknown" is kept, as ``None``."""
    doc = entry.to_json()
    attrs = doc.pop("attrs", None)
    fields: dict[str, object] = {
        "seq": doc.pop("seq"),
        "hash": doc.pop("hash"),
        "prev_hash": entry.prev_hash,
        "kind": doc.pop("kind"),
        "account_id": entry.account_id,
        **doc,
    }
    if isinstance(attrs, dict):
        fields.update(attrs)
    return fields


@app.command()
@handle_errors
def show(
    seq: Annotated[int, typer.Argument(min=1, help="The entry's sequence number.")],
    field: Annotated[
        str | None,
        typer.Option(help="Print only this field's value (hash, prev_hash, kind, at, …)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entry as JSON.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Print one ledger entry: its sequence number, hash, the previous entry's hash, when it
    was effective and recorded, its kind and what it says. SEQ and its hash make a position
    (`SEQ:HASH`) that `verify --against` proves later.

    Example: `HASH=$(consentry ledger show 5 --field hash)`, then
    `consentry ledger verify --against 5:$HASH`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        head = ledger.head()
        if seq > head.seq:
            raise UsageError(f"the ledger has no entry {seq}: its head is entry {head.seq}")
        fields = entry_fields(ledger.entry(seq))
    if field is not None:
        if field not in fields:
            raise UsageError(
                f"--field: entry {seq} has no field {field!r} (it has: {', '.join(fields)})"
            )
        print(_text(fields[field]))
    elif as_json:
        print(json.dumps(fields, indent=2))
    else:
        width = max(len(name) for name in fields)
        for name, value in fields.items():
            print(f"{name:<{width}}  {_text(value)}")


def _text(value: object) -> str:
    """A field's value as a shell reads it: ``true``/``false`` as in JSON, ``unknown`` for an
    attribute recorded as not known."""
    if value is None:
        return "unknown"
    return json.dumps(value) if isinstance(value, bool) else str(value)


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

    Example: `consentry ledger verify --against 5:$(consentry ledger show 5 --field hash)`
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
