"""docs/cli.md is generated from the code and up to date with it, and every `consentry …`
command the README and docs/ mention exists."""

from __future__ import annotations

import difflib
import functools
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.core
import typer.main
from scripts import gen_cli_docs

import consentry
from consentry.cli.main import app
from consentry.errors import ConsentryError

ROOT = Path(__file__).resolve().parents[1]
CLI_MD = ROOT / "docs" / "cli.md"
STALE = "docs/cli.md is out of date with the code: run `make docs`"

#: ``consentry`` as a command (not ``src/consentry/``, ``consentry.cli``, ``consentry[names]``).
MENTION = re.compile(r"(?<![\w./\[-])consentry(?=[ \t]+)")
#: A word that can only be a command's name; anything else (an option, an id, a path, a
#: placeholder such as ACCOUNT or [OPTIONS]) ends the command's words.
WORD = re.compile(r"^[a-z][a-z0-9_-]*(\|[a-z][a-z0-9_-]*)*$")


def documented() -> str:
    return CLI_MD.read_text("utf-8") if CLI_MD.exists() else ""


def test_every_command_has_its_section() -> None:
    text = documented()
    missing = [
        " ".join(("consentry", *path))
        for path in gen_cli_docs.command_paths()
        if f"### `{' '.join(('consentry', *path))}`" not in text
    ]
    assert not missing, f"{STALE} (missing: {', '.join(missing)})"


def test_it_is_what_the_code_generates() -> None:
    expected, current = gen_cli_docs.render(), documented()
    diff = "".join(
        list(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "docs/cli.md",
                "generated",
            )
        )[:40]
    )
    assert current == expected, f"{STALE}\n{diff}"


def test_the_exit_code_table_holds_every_named_error() -> None:
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", documented(), re.MULTILINE)
    table = {name: int(code) for code, name in rows}
    for module in pkgutil.walk_packages(consentry.__path__, "consentry."):
        importlib.import_module(module.name)  # every error defined, not only the CLI's
    errors: list[type[ConsentryError]] = [ConsentryError]
    for cls in errors:
        errors += cls.__subclasses__()
    named = {c.__name__: c.exit_code for c in errors if c.__module__.startswith("consentry.")}
    assert named and table == named, STALE


@pytest.mark.slow
def test_generation_ignores_the_terminal_and_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "cli.md"
    env = dict(os.environ, COLUMNS="43", TERMINAL_WIDTH="61", FORCE_COLOR="1", TERM="xterm")
    script = ROOT / "scripts" / "gen_cli_docs.py"
    cmd = [sys.executable, str(script), "--out", str(out)]
    subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True)
    assert out.read_text("utf-8") == gen_cli_docs.render()
    assert "\x1b[" not in out.read_text("utf-8")
    out.write_text("stale\n", "utf-8")
    check = subprocess.run([*cmd, "--check"], env=env, capture_output=True, text=True)
    assert check.returncode == 1 and "run `make docs`" in check.stderr


# ---- commands mentioned in the README and docs/ -------------------------------------------------


def code_of(markdown: str) -> list[str]:
    """A Markdown text in pieces a command can be read from: its fenced blocks, its inline code
    spans, and its prose without them (a command may be mentioned anywhere)."""
    fence = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
    outside = fence.sub("", markdown)
    spans = re.compile(r"`([^`\n]+)`")
    return [*fence.findall(markdown), *spans.findall(outside), spans.sub(" ", outside)]


def mentioned_commands(code: str) -> list[list[str]]:
    """The words after each ``consentry`` up to its first option or argument."""
    found = []
    for m in MENTION.finditer(code):
        words = []
        # A command's words come first: a few lines' worth is enough to read them.
        for token in code[m.end() : m.end() + 240].split():
            token = token.rstrip(".,;:)")
            if not WORD.match(token):
                break
            words.append(token)
        found.append(words)
    return found


@functools.cache
def root_command() -> object:
    return typer.main.get_command(app)


def unknown_command(words: list[str]) -> str | None:
    """The first of ``words`` that should name a sub-command and does not, or None."""
    command = root_command()
    for word in words:
        if not isinstance(command, typer.core.TyperGroup):
            return None  # a command's arguments follow
        names = word.split("|")
        subs = [command.commands.get(name) for name in names]
        if any(sub is None for sub in subs):
            return word
        command = subs[0]
    return None


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_mentioned_exists(path: Path) -> None:
    problems = []
    mentions = 0
    for code in code_of(path.read_text("utf-8")):
        for words in mentioned_commands(code):
            mentions += 1
            bad = unknown_command(words)
            if bad is not None:
                problems.append(f"consentry {' '.join(words)}: no command {bad!r}")
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)
    if path.name == "README.md":
        assert mentions > 30


def test_an_unknown_command_is_caught() -> None:
    """The check itself: what it reads as a command, and what it lets through."""
    code = code_of(
        "Run `consentry ledger shwo 5` or\n```sh\nconsentry consent grant|refuse 1001 train\n"
        "X=$(consentry ledger head)  # see src/consentry/ledger and consentry.cli\n```\n"
        "then consentry whereis 1001, the `consentry` command, pip install consentry[names]\n"
    )
    found = [words for c in code for words in mentioned_commands(c)]
    assert found == [
        ["consent", "grant|refuse"],
        ["ledger", "head"],
        ["ledger", "shwo"],
        ["whereis"],
    ]
    assert [unknown_command(w) for w in found] == ["grant|refuse", None, "shwo", None]
    assert unknown_command(["snapshot", "verify", "snapshots", "acme"]) is None
    assert unknown_command(["frobnicate"]) == "frobnicate"
