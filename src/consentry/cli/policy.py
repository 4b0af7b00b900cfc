"""``consentry policy …``: check a policy file, print the default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from consentry.cli.common import console, err_console, handle_errors
from consentry.policy import check_policy, default_policy_text

app = typer.Typer(help="Check and print consent policies.", no_args_is_help=True)


@app.command()
@handle_errors
def check(file: Annotated[Path, typer.Argument(help="Policy file (TOML).")]) -> None:
    """Report every problem in a policy file with its key and the reason; exit 3 if any.

    Example: `consentry policy check my-policy.toml`
    """
    problems = check_policy(file)
    if not problems:
        console.print(f"[green]ok[/]: {file} is a valid policy")
        return
    err_console.print(f"{file}: {len(problems)} problem(s)", highlight=False)
    for p in problems:
        err_console.print(f"  {p}", highlight=False)
    raise typer.Exit(3)


@app.command()
def default() -> None:
    """Print the shipped default policy (opt-in everywhere), to start your own from.

    Example: `consentry policy default > policy.toml`
    """
    print(default_policy_text(), end="")
