"""``consentry consent …``: record a choice, show the state, list the history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import groupby
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
from consentry.cli.compliance import scan
from consentry.compliance.decisions import vet_decision
from consentry.errors import UsageError
from consentry.ledger import AsOf, LedgerEntry
from consentry.model import SHARE, ConsentDecision, Decision, Scope, Source
from consentry.policy.choices import (
    Choice,
    choices,
    decided_of,
    entries_as_of,
    recipient_choices,
    share_choice,
    share_recipients,
)

app = typer.Typer(help="Record and inspect consent decisions.", no_args_is_help=True)

ScopeOption = Annotated[
    Scope | None,
    typer.Option(help="Narrow the decision to one scope (default: all of the account's content)."),
]
SourceOption = Annotated[Source, typer.Option(help="Where the decision was made.")]
AtOption = Annotated[
    str | None,
    typer.Option(help="When the decision was made, RFC 3339 with offset (default: now)."),
]
NoticeOption = Annotated[
    str | None, typer.Option("--notice", help="Version of the notice the person was shown.")
]
RecipientOption = Annotated[
    str | None,
    typer.Option(help="For `share` only: the third party this decision is about (default: all)."),
]


def _record(
    decision: Decision,
    account: str,
    purpose: str,
    scope: Scope | None,
    source: Source,
    at: str | None,
    notice: str | None,
    recipient: str | None,
    workspace: WorkspaceOption,
) -> None:
    ws = open_workspace(workspace)
    ws.policy().require_purpose(purpose)
    if recipient and purpose != SHARE:
        raise UsageError("--recipient only applies to the share purpose")
    item = ConsentDecision(
        account_id=account,
        purpose=purpose,
        decision=decision,
        at=parse_time(at),
        source=source,
        scope=scope,
        notice_version=notice,
        recipient=recipient,
    )
    with ws.ledger() as ledger:
        found = vet_decision(ledger, item)
        head = ledger.append([item])
    if not found.known:
        err_console.print(
            f"warning: the ledger has no account {account} yet; the decision is recorded and "
            "applies to its content once imported",
            highlight=False,
            soft_wrap=True,
        )
    what = (
        f"{purpose}"
        + (f" ({scope.value})" if scope else "")
        + (f" for {recipient}" if recipient else "")
    )
    console.print(f"Recorded {decision.value} of {what} for account {account} at entry {head.seq}")
    console.print(f"head {head}", style="dim", highlight=False, soft_wrap=True)
    if decision is Decision.DENY:  # recipients holding affected records are told at once
        with ws.ledger() as ledger:
            scan(ws, ledger)


def _decision_command(decision: Decision, doc: str) -> Callable[..., None]:
    """``grant`` and ``deny`` take the same arguments; Typer reads them from this signature."""

    @handle_errors
    def command(
        account: Annotated[str, account_argument()],
        purpose: Annotated[str, typer.Argument(help="Purpose: train, fine_tune, share, answer, …")],
        scope: ScopeOption = None,
        source: SourceOption = Source.CLI,
        at: AtOption = None,
        notice: NoticeOption = None,
        recipient: RecipientOption = None,
        workspace: WorkspaceOption = None,
    ) -> None:
        _record(decision, account, purpose, scope, source, at, notice, recipient, workspace)

    command.__doc__ = doc
    return command


app.command("grant")(
    _decision_command(
        Decision.GRANT,
        """Record that ACCOUNT says yes to PURPOSE.

    Example: `consentry consent grant 1001 train --source app --notice 2024-07`
    """,
    )
)
app.command("deny")(
    _decision_command(
        Decision.DENY,
        """Record that ACCOUNT says no to PURPOSE (a withdrawal when it had said yes).

    Example: `consentry consent deny 1001 train --scope assistant`
    """,
    )
)


@app.command()
@handle_errors
def show(
    account: Annotated[str, account_argument()],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="A ledger sequence number or an RFC 3339 time (default: head)."
        ),
    ] = None,
    recipient: RecipientOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Show ACCOUNT's effective choice per purpose and scope, in words; undecided ones show the
    policy default for the account's country. Each recipient a share decision names gets its
    own line (share as that recipient sees it), and the last line says what a Global Privacy
    Control signal would do, as the service does it.

    Example: `consentry consent show 1001 --as-of 2024-08-01T00:00:00Z`
    """
    ws = open_workspace(workspace)
    policy = ws.policy()
    with ws.ledger() as ledger:
        resolved = ledger.resolve(AsOf.parse(as_of))
        state = ledger.consent_state(resolved, account_id=account, recipient=recipient)
        accounts = ledger.account_states(resolved, account_id=account)
        country = accounts["country"][0].as_py() if accounts.num_rows else None
        entries = entries_as_of(ledger.account_history(account), resolved)
        shown = choices(policy, country, decided_of(state), recipient=recipient)
        # Asked as one recipient sees it, the rows above say it; else every recipient named,
        # after the general share rows.
        named = [] if recipient else share_recipients(entries)
        after = max((i + 1 for i, c in enumerate(shown) if c.purpose == SHARE), default=0)
        shown[after:after] = recipient_choices(ledger, policy, resolved, account, country, named)
    table = Table(title=f"Account {account} as of entry {resolved.position.seq}")
    for col in ("purpose", "scope", "choice", "for", "since", "entry"):
        table.add_column(col)
    for c in _one_line_per_recipient(shown):
        style = "dim" if c.default else "green" if c.decision is Decision.GRANT else "red"
        table.add_row(
            c.purpose,
            c.scope,
            f"[{style}]{c.words}[/]",
            c.recipient or ("anyone" if c.purpose == SHARE else ""),
            fmt_time(c.since) if c.since else "",
            str(c.entry) if c.entry is not None else "",
        )
    console.print(uncut(table, "entry"))
    if not accounts.num_rows:
        console.print("[dim]The ledger has no account state for this account yet.[/]")
    gpc = share_choice(entries)
    console.print(
        "A Global Privacy Control signal records a deny of share: the account has not decided "
        "share yet."
        if gpc is None
        else "A Global Privacy Control signal changes nothing: the account decided share "
        f"itself (entry {gpc.seq}).",
        style="dim",
        highlight=False,
    )


def _one_line_per_recipient(shown: list[Choice]) -> list[Choice]:
    """A recipient's share choices in one line (scope "all") when every scope says the same."""
    out: list[Choice] = []
    for name, group in groupby(shown, key=lambda c: c.recipient):
        rows = list(group)
        same = {(c.decision, c.default, c.entry) for c in rows}
        out += [replace(rows[0], scope="all")] if name and len(same) == 1 else rows
    return out


def entry_summary(e: LedgerEntry) -> str:
    if e.kind.value == "consent":
        scope = f" ({e.scope})" if e.scope else ""
        to = f" for {e.recipient}" if e.recipient else ""
        notice = f", notice {e.notice_version}" if e.notice_version else ""
        return f"{e.decision} {e.purpose}{scope}{to} via {e.source}{notice}"
    attrs = ", ".join(f"{k}={v}" for k, v in (e.attrs or {}).items())
    verb = "created" if e.kind.value == "account_created" else "changed"
    return f"account {verb}" + (f": {attrs}" if attrs else "")


@app.command()
@handle_errors
def history(
    account: Annotated[str, account_argument()],
    workspace: WorkspaceOption = None,
) -> None:
    """List every ledger entry about ACCOUNT, oldest first.

    Example: `consentry consent history 1001`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        entries = ledger.account_history(account)
    if not entries:
        console.print(f"No ledger entries for account {account}.")
        return
    table = Table(title=f"History of account {account}")
    for col in ("entry", "effective", "recorded", "what"):
        table.add_column(col)
    for e in entries:
        table.add_row(str(e.seq), fmt_time(e.at), fmt_time(e.recorded_at), entry_summary(e))
    console.print(uncut(table, "entry"))
