"""How the CLI says an error: one line, the message as written (no Rich markup read into it)."""

from __future__ import annotations

from .conftest import Run


def test_an_error_quoting_brackets_says_them(run: Run) -> None:
    run("init")
    result = run("recipient", "show", "[bold]acme[/bold]", code=2)
    assert "[bold]acme[/bold]" in result.output
