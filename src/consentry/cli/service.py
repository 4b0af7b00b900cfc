"""``consentry serve``, ``token``, ``keys …``, ``plan …`` and ``invoice``: the HTTP service and
what operators manage for it."""

from __future__ import annotations

import copy
import os
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.table import Table

from consentry.api import tokens
from consentry.api.keys import ApiKeys, NewKey, Role
from consentry.api.metering import Meter, check_month, current_period
from consentry.api.plans import Plan, Plans
from consentry.api.settings import ENV_REDIS
from consentry.cli.common import (
    WorkspaceOption,
    account_argument,
    console,
    err_console,
    handle_errors,
    open_workspace,
    uncut,
)
from consentry.db_urls import redact
from consentry.errors import UsageError
from consentry.workspace import ENV_ROOT

keys_app = typer.Typer(help="API keys for licensees and operators.", no_args_is_help=True)
plan_app = typer.Typer(
    help="Licensing plans and which recipient is on which.", no_args_is_help=True
)


@handle_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each with its own ledger).")] = 1,
    redis: Annotated[
        str | None,
        typer.Option(
            help="Redis URL for rate limits shared by all workers [env: CONSENTRY_REDIS]; "
            "without it each worker limits on its own.",
            show_default=False,
        ),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log one JSON line per request.")] = True,
    workspace: WorkspaceOption = None,
) -> None:
    """Run the HTTP service (OpenAPI at /openapi.json, health at /healthz) over the workspace.

    Example: `consentry serve --port 8000 --workers 4 --redis redis://127.0.0.1:6379/0`
    """
    # Here, not at the top: uvicorn and the HTTP protocol load only for the service.
    import uvicorn

    from consentry.api import protocol

    ws = open_workspace(workspace)
    tokens.signing_key(ws)  # made once here rather than raced for by the workers
    # Workers are separate processes: they find the workspace and Redis through the environment.
    os.environ[ENV_ROOT] = str(ws.root.resolve())
    if redis:
        os.environ[ENV_REDIS] = redis
    # uvicorn applies this in every worker process (a worker does not inherit our logging).
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["formatters"]["plain"] = {"format": "%(message)s"}
    log_config["handlers"]["consentry"] = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "stream": "ext://sys.stderr",
    }
    log_config["loggers"]["consentry"] = {"handlers": ["consentry"], "level": "INFO"}
    log_config["loggers"]["consentry.access"] = {
        "level": "INFO" if access_log else "WARNING",
    }
    err_console.print(
        f"Serving {ws.root} ({redact(ws.db_url)}) on http://{host}:{port} with {workers} "
        f"worker(s); rate limits {'in Redis' if os.environ.get(ENV_REDIS) else 'per worker'}",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        "consentry.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # uvicorn's own line carries the query string; ours is structured
        log_level="info",
        log_config=log_config,
        server_header=False,
        http=protocol.PROTOCOL,  # request line and headers bounded (414, 431)
        # uvicorn restarts a worker that does not answer its supervisor within this time; a
        # worker importing the library on a busy machine can take more than uvicorn's 5 s, and
        # would then be killed and restarted in a loop.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )


WORKER_HEALTHCHECK_S = 60


@handle_errors
def token(
    account: Annotated[str, account_argument("Account id (the token's `sub`).")],
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.", min=1)] = tokens.DEFAULT_TTL,
    workspace: WorkspaceOption = None,
) -> None:
    """Mint a person's bearer token for ACCOUNT, as the platform would (for tests and demos).

    Example: `curl -H "Authorization: Bearer $(consentry token 1001)" localhost:8000/v1/me/consent`
    """
    ws = open_workspace(workspace)
    typer.echo(tokens.mint(tokens.signing_key(ws), account, ttl=ttl))


def _show_new(new: NewKey) -> None:
    key = new.key
    who = f" for {key.recipient}" if key.recipient else ""
    err_console.print(
        f"Created {key.role.value} key {key.key_id}{who}. The key is shown this once; "
        "only its digest is kept:",
        highlight=False,
    )
    typer.echo(new.secret)


@keys_app.command("create")
@handle_errors
def keys_create(
    role: Annotated[
        Role,
        typer.Option(
            help="admin (operators), licensee (one recipient) or assistant (live eligibility)."
        ),
    ],
    recipient: Annotated[
        str | None, typer.Option(help="The recipient a licensee key belongs to.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="A note to tell keys apart.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Create an API key and print it once (to standard output; the message goes to standard
    error, so `KEY=$(consentry keys create …)` works).

    Example: `consentry keys create --role licensee --recipient acme-ai`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        new = ApiKeys(ledger).create(role, recipient=recipient, label=label)
    _show_new(new)


@keys_app.command("list")
@handle_errors
def keys_list(workspace: WorkspaceOption = None) -> None:
    """List API keys (ids, roles, recipients; never secrets).

    Example: `consentry keys list`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        found = ApiKeys(ledger).list()
    table = Table(title="API keys")
    for col in ("id", "role", "recipient", "label", "state"):
        table.add_column(col)
    for k in found:
        state = "revoked" if k.revoked else "active"
        table.add_row(k.key_id, k.role.value, k.recipient or "", k.label or "", state)
    console.print(uncut(table, "id", "recipient"))


@keys_app.command("revoke")
@handle_errors
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (as `keys list` shows it).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a key: it is refused from the next request on.

    Example: `consentry keys revoke 3f9a0c1d2e4b5a69`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        ApiKeys(ledger).revoke(key_id)
    console.print(f"Revoked key {key_id}")


@keys_app.command("rotate")
@handle_errors
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="The key to replace.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Replace a key by a new one (same role and recipient); the old one is revoked.

    Example: `consentry keys rotate 3f9a0c1d2e4b5a69`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        new = ApiKeys(ledger).rotate(key_id)
    _show_new(new)


def _cents(text: str, option: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{option}: not an amount: {text!r}") from None
    if value < 0 or value != value.quantize(Decimal("0.01")):
        raise UsageError(f"{option}: a non-negative amount with at most 2 decimals: {text!r}")
    return int(value * 100)


def _money(cents: int) -> str:
    return f"{Decimal(cents) / 100:,.2f}"


@plan_app.command("set")
@handle_errors
def plan_set(
    name: Annotated[str, typer.Argument(help="Plan name.")],
    price: Annotated[str, typer.Option(help="Monthly price, e.g. 1500.00.")],
    included: Annotated[int, typer.Option(help="Records included per month.", min=0)],
    overage: Annotated[str, typer.Option(help="Price per 1,000 records beyond, e.g. 0.80.")],
    rate: Annotated[int, typer.Option(help="Requests per minute per key.", min=1)] = 600,
    workspace: WorkspaceOption = None,
) -> None:
    """Create or change a plan.

    Example: `consentry plan set research --price 1500 --included 1000000 --overage 0.80`
    """
    ws = open_workspace(workspace)
    plan = Plan(name, _cents(price, "--price"), included, _cents(overage, "--overage"), rate)
    with ws.ledger() as ledger:
        Plans(ledger).put(plan)
    console.print(f"Plan {name}: {_money(plan.monthly_price_cents)} a month, {included:,} records")


@plan_app.command("assign")
@handle_errors
def plan_assign(
    recipient: Annotated[str, typer.Argument(help="The recipient.")],
    plan: Annotated[str, typer.Argument(help="The plan.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Put RECIPIENT on PLAN (from now on; usage is billed on the plan in force at invoicing).

    Example: `consentry plan assign acme-ai research`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        Plans(ledger).assign(recipient, plan)
    console.print(f"{recipient} is on plan {plan}")


@plan_app.command("list")
@handle_errors
def plan_list(workspace: WorkspaceOption = None) -> None:
    """List plans.

    Example: `consentry plan list`
    """
    ws = open_workspace(workspace)
    with ws.ledger() as ledger:
        found = Plans(ledger).list()
    table = Table(title="Plans")
    for col in ("plan", "monthly", "included records", "per 1,000 beyond", "requests/min"):
        table.add_column(col)
    for p in found:
        table.add_row(
            p.name,
            _money(p.monthly_price_cents),
            f"{p.included_records:,}",
            _money(p.overage_cents_per_1000),
            str(p.requests_per_minute),
        )
    console.print(uncut(table, "plan"))


@handle_errors
def invoice(
    recipient: Annotated[str, typer.Argument(help="The recipient to bill.")],
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month).")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Show RECIPIENT's invoice for a month, from metered usage and its plan.

    Example: `consentry invoice acme-ai --month 2026-11`
    """
    ws = open_workspace(workspace)
    period = check_month(month) if month else current_period()
    with ws.ledger() as ledger:
        bill = Meter(ledger).invoice(recipient, period)
    u = bill.usage
    console.print(f"Invoice for {recipient}, {period}")
    console.print(f"  requests          {u.requests:,}")
    console.print(f"  records delivered {u.records:,}")
    console.print(f"  bytes delivered   {u.bytes:,}")
    if bill.plan is None:
        console.print("  no plan: nothing to bill")
        return
    console.print(f"  plan {bill.plan.name:<12} {_money(bill.base_cents):>14}")
    console.print(
        f"  overage {bill.overage_records:,} records {_money(bill.overage_cents):>10}",
    )
    console.print(f"  total             {_money(bill.total_cents):>14}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("token")(token)
    app.command("invoice")(invoice)
    app.add_typer(keys_app, name="keys")
    app.add_typer(plan_app, name="plan")
