"""A demo workspace with something in every section of the report: an import (decisions
over time), a recipient, an internal and a delivered snapshot, a withdrawal, a GPC refusal and
an erasure with its certificate. Built through the CLI, as an operator would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.cli.conftest import invoker

from consentry.workspace import Workspace

RECIPIENT = "acme-ai"


@dataclass(frozen=True)
class ReportWorkspace:
    ws: Workspace
    snapshots: tuple[Path, Path]
    accounts: tuple[str, ...]
    erased: str
    withdrawn: str


def build(root: Path, demo_platform: Path) -> ReportWorkspace:
    run = invoker()
    ws_root = root / "ws"
    w = ("-w", str(ws_root))
    run("init", *w)
    run("import", "canonical", str(demo_platform), *w)
    lines = (demo_platform / "accounts.jsonl").read_text("utf-8").splitlines()
    accounts = tuple(json.loads(line)["id"] for line in lines if line.strip())
    withdrawn, gpc, erased = accounts[1], accounts[2], accounts[3]
    run("recipient", "add", RECIPIENT, "--contact", "dpo@acme.example", *w)
    for who in accounts[:6]:
        run("consent", "grant", who, "train", *w)
        run("consent", "grant", who, "share", "--recipient", RECIPIENT, *w)
    internal, delivered = root / "snap-train", root / "snap-acme"
    run("snapshot", "build", "--purpose", "train", "--out", str(internal), *w)
    run(
        "snapshot", "build", "--purpose", "train", "--recipient", RECIPIENT,
        "--out", str(delivered), *w,
    )  # fmt: skip
    run("consent", "deny", withdrawn, "train", *w)
    run("consent", "deny", gpc, "fine_tune", "--source", "gpc", *w)
    run("erase", erased, "--yes", *w)
    return ReportWorkspace(
        Workspace.open(ws_root), (internal, delivered), accounts, erased, withdrawn
    )
