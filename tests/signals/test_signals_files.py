"""robots.txt and tdmrep.json through the CLI: parsed by Python's robots parser (the groups),
each ``Content-Usage`` line checked against draft-ietf-aipref-attach-05's form and its value by
an RFC 9651 parser, the rules following the ledger; output paths obey the project's rule."""

from __future__ import annotations

import json
import re
import urllib.robotparser
from pathlib import Path

import pytest
from tests.cli.conftest import Run

from consentry.model import Decision
from consentry.workspace import Workspace

from .conftest import BY_ID
from .support import add_account, decide, make_workspace, parse_usage

# content-usage-line = "Content-Usage" ":" [ path-pattern 1*WSP ] usage-pref (attach-05, robots);
# a path pattern as RFC 9309 has it: "/" then path characters, "*" and a final "$".
PATH = r"/[A-Za-z0-9\-._~!&'()+,;=:@/%*]*\$?"
RULE = re.compile(
    rf"^(?P<key>Content-Usage|Content-Signal): (?:(?P<path>{PATH}) )?(?P<value>\S.*)$"
)


@pytest.fixture
def workspace(run: Run, tmp_path: Path) -> Workspace:
    ws = make_workspace(tmp_path / ".consentry", None, BY_ID + 'search = "y"\n')
    with ws.ledger() as ledger:
        for account in ("1", "2", "3"):
            add_account(ledger, account)
        decide(ledger, "2", "train", Decision.GRANT)
    return ws


def rules(text: str) -> dict[tuple[str, str | None], str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith("Content-"):
            continue
        match = RULE.match(line)
        assert match is not None, line
        value = match["value"]
        if match["key"] == "Content-Usage":
            parse_usage(value)  # raises on anything not RFC 9651, asserts tokens
        out[(match["key"], match["path"])] = value
    return out


def test_robots_holds_each_accounts_rule_and_follows_a_withdrawal(
    run: Run, workspace: Workspace, tmp_path: Path
) -> None:
    text = run("signals", "robots").stdout
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(text.splitlines())
    assert parser.can_fetch("SomeCrawler", "/u/2/posts/9")  # signals are about use, not access
    found = rules(text)
    assert found[("Content-Usage", None)] == "train-ai=n, search=y"
    assert found[("Content-Usage", "/u/1$")] == "train-ai=n, search=y"
    assert found[("Content-Usage", "/u/2$")] == "train-ai=y, search=y"
    assert found[("Content-Usage", "/u/2/posts/")] == "train-ai=y, search=y"
    assert found[("Content-Signal", "/u/2/posts/")] == "ai-train=yes, ai-input=no, search=yes"
    assert found[("Content-Usage", "/u/3/posts/")] == "train-ai=n, search=y"
    with workspace.ledger() as ledger:
        decide(ledger, "2", "train", Decision.DENY, step=2)
    out = tmp_path / "robots.txt"
    run("signals", "robots", "--out", str(out))
    found = rules(out.read_text("ascii"))
    assert found[("Content-Usage", "/u/2$")] == "train-ai=n, search=y"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_tdmrep_json(run: Run, workspace: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "tdmrep.json"
    run("signals", "tdmrep", "--out", str(out))
    entries = json.loads(out.read_text("utf-8"))
    said = {e["location"]: e["tdm-reservation"] for e in entries}
    assert said == {
        "/u/1$": 1,
        "/u/1/posts/": 1,
        "/u/2$": 0,
        "/u/2/posts/": 0,
        "/u/3$": 1,
        "/u/3/posts/": 1,
    }


def test_show_and_refusals(run: Run, workspace: Workspace) -> None:
    shown = json.loads(run("signals", "show", "2").stdout)
    assert shown["content_usage"] == "train-ai=y, search=y"
    assert shown["headers"]["tdm-reservation"] == "0"
    assert "knows no account" in run("signals", "show", "404", code=2).output
    # An output inside the workspace is refused: it holds the ledger.
    inside = run("signals", "robots", "--out", str(workspace.root / "robots.txt"), code=2)
    assert "inside the workspace" in inside.output
    assert not (workspace.root / "robots.txt").exists()


def test_bad_pattern_names_the_file_and_key(run: Run, tmp_path: Path) -> None:
    make_workspace(tmp_path / ".consentry", None, 'profile = "user/{handle}"\n')
    result = run("signals", "robots", code=4)
    assert "config.toml: signals.profile must be a URL path" in result.output


def test_handles_from_an_import(run: Run, demo_platform: Path) -> None:
    run("init")
    run("import", "canonical", str(demo_platform))
    text = run("signals", "robots").stdout
    found = rules(text)
    handles = [json.loads(line)["handle"] for line in (demo_platform / "accounts.jsonl").open()]
    assert ("Content-Usage", f"/{handles[0]}$") in found
    assert ("Content-Usage", f"/{handles[0]}/status/") in found
