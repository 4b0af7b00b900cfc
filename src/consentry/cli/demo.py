"""``consentry demo …``: a realistic synthetic platform to try Consentry on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

from consentry.cli.common import console, handle_errors, progress_bar
from consentry.errors import UsageError
from consentry.platform.demo import DEFAULT_POSTS, default_accounts, generate

app = typer.Typer(help="A synthetic platform for demos and benchmarks.", no_args_is_help=True)


@app.command("generate")
@handle_errors
def generate_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the platform to.")],
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 0,
    accounts: Annotated[
        int | None,
        typer.Option(help="Number of accounts [default: one per 100 posts, at least 20]."),
    ] = None,
    posts: Annotated[
        int, typer.Option(help="Number of content items (all kinds).")
    ] = DEFAULT_POSTS,
) -> None:
    """Write a synthetic platform in the canonical export format — accounts, content, likes,
    consent history — with `ground_truth.jsonl` listing every planted piece of personal data,
    and a README describing it.

    Example: `consentry demo generate --out ./demo --seed 7 --posts 50000`
    """
    if posts < 0:
        raise UsageError("--posts must be zero or more")
    if accounts is not None and accounts < 1:
        raise UsageError("--accounts must be at least 1")
    with progress_bar(
        "generating", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as progress:
        task = progress.add_task("posts", total=posts)
        summary = generate(
            out,
            seed=seed,
            posts=posts,
            accounts=accounts,
            progress=lambda n: progress.advance(task, n),
        )
    t = summary.tally
    console.print(
        f"Wrote [bold]{out}[/]: {summary.accounts:,} accounts, {summary.posts:,} items, "
        f"{t.likes:,} interactions, {summary.decisions:,} consent decisions, "
        f"{sum(t.spans.values()):,} planted spans (ground_truth.jsonl)",
        soft_wrap=True,
    )
    if accounts is None:
        console.print(f"  (accounts: {default_accounts(posts):,}, one per 100 posts)", style="dim")
