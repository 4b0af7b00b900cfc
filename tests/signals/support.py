"""Workspaces with accounts and decisions written straight to the ledger, and the page
patterns the tests use."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from http_sfv.dictionary import Dictionary
from http_sfv.types import Token

from consentry.ledger import LedgerStore
from consentry.model import AccountChange, AccountStatus, ConsentDecision, Decision, Scope
from consentry.workspace import CONFIG_NAME, Workspace

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ADULT = date(1990, 1, 1)


def make_workspace(root: Path, db_url: str | None, signals: str = "") -> Workspace:
    ws = Workspace.init(root, db_url=db_url)
    if signals:
        config = ws.root / CONFIG_NAME
        config.write_text(config.read_text("utf-8") + "\n[signals]\n" + signals, "utf-8")
    return ws


def add_account(
    ledger: LedgerStore,
    account: str,
    *,
    birth: date | None = ADULT,
    status: AccountStatus = AccountStatus.ACTIVE,
    protected: bool = False,
) -> None:
    attrs = {"country": "FR", "birth_date": birth, "protected": protected, "status": status}
    ledger.append([AccountChange(account, T0, attrs, created=True)])


def decide(
    ledger: LedgerStore,
    account: str,
    purpose: str,
    decision: Decision,
    *,
    step: int = 1,
    scope: Scope | None = None,
) -> None:
    at = T0 + timedelta(minutes=step)
    ledger.append([ConsentDecision(account, purpose, decision, at, scope=scope)])


def parse_dictionary(text: str) -> dict[str, object]:
    """``text`` as an RFC 9651 dictionary, by http-sfv (an independent parser): member → its
    bare item's value (``Token`` for a token). Raises on anything that is not one."""
    parsed = Dictionary()
    parsed.parse(text.encode("ascii"))
    return {k: v.value for k, v in parsed.items()}


def parse_usage(text: str) -> dict[str, str]:
    """A ``Content-Usage`` value: a dictionary whose every member is a token."""
    parsed = parse_dictionary(text)
    assert all(isinstance(v, Token) for v in parsed.values()), text
    return {k: str(v) for k, v in parsed.items()}
