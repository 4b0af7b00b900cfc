"""The service's commands: token, keys create/list/revoke/rotate, plan set/assign/list, invoice."""

from __future__ import annotations

import stat
from pathlib import Path

from consentry.api import tokens
from consentry.api.keys import ApiKeys
from consentry.api.metering import Meter, current_period
from consentry.api.plans import Plans
from consentry.workspace import Workspace

from .conftest import Run


def test_token_is_signed_with_the_workspace_key(run: Run, tmp_path: Path) -> None:
    run("init")
    token = run("token", "1001").stdout.strip()
    ws = Workspace.open(tmp_path / ".consentry")
    assert tokens.account_of(tokens.signing_key(ws), token) == "1001"
    key_file = tmp_path / ".consentry" / "jwt_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() not in token


def test_keys_are_shown_once_then_listed_revoked_and_rotated(run: Run, tmp_path: Path) -> None:
    run("init")
    assert (
        "unknown recipient"
        in run("keys", "create", "--role", "licensee", "--recipient", "acme-ai", code=2).output
    )
    run("recipient", "add", "acme-ai")
    created = run("keys", "create", "--role", "licensee", "--recipient", "acme-ai")
    secret = created.stdout.strip()
    assert secret.startswith("csk_") and "shown this once" in created.stderr
    key_id = secret.split("_")[1]
    listed = run("keys", "list").stdout
    assert key_id in listed and secret.split("_", 2)[2] not in listed and "active" in listed
    ws = Workspace.open(tmp_path / ".consentry")
    with ws.ledger() as ledger:
        assert ApiKeys(ledger).check(secret) is not None
    rotated = run("keys", "rotate", key_id).stdout.strip()
    with ws.ledger() as ledger:
        assert ApiKeys(ledger).check(secret) is None
        check = ApiKeys(ledger).check(rotated)
        assert check is not None and check.key.recipient == "acme-ai"
    run("keys", "revoke", rotated.split("_")[1])
    with ws.ledger() as ledger:
        assert ApiKeys(ledger).check(rotated) is None
    assert "belongs to a recipient" in run("keys", "create", "--role", "licensee", code=2).output
    assert "no API key" in run("keys", "revoke", "nope", code=2).output


def test_plans_and_invoice(run: Run, tmp_path: Path) -> None:
    run("init")
    run("plan", "set", "research", "--price", "1500", "--included", "1000", "--overage", "0.80")
    assert (
        "unknown recipient 'acme-ai'" in run("plan", "assign", "acme-ai", "research", code=2).output
    )
    run("recipient", "add", "acme-ai")
    with Workspace.open(tmp_path / ".consentry").ledger() as ledger:
        assert Plans(ledger).of("acme-ai") is None  # registered later, it inherits nothing
    run("plan", "assign", "acme-ai", "research")
    assert "1,500.00" in run("plan", "list").stdout
    assert "no plan 'gold'" in run("plan", "assign", "acme-ai", "gold", code=2).output
    assert (
        "at most 2 decimals"
        in run(
            "plan", "set", "x", "--price", "1.001", "--included", "1", "--overage", "1", code=2
        ).output
    )
    ws = Workspace.open(tmp_path / ".consentry")
    with ws.ledger() as ledger:
        Meter(ledger).count_file("acme-ai", "s1", "data/part-00000.parquet", 3_000)
    out = run("invoice", "acme-ai", "--month", current_period()).stdout
    assert "records delivered 3,000" in out
    assert "overage 2,000 records" in out and "1.60" in out
    assert "1,501.60" in out
    assert "YYYY-MM" in run("invoice", "acme-ai", "--month", "11/2026", code=2).output
