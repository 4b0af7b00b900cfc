"""One account's signals as ``GET /v1/signals/{account}`` and ``consentry signals show`` give
them: each vocabulary's value, the headers its pages carry, and the ledger position."""

from __future__ import annotations

from typing import Any

from consentry.ledger import LedgerStore
from consentry.policy import Policy
from consentry.signals.config import SignalsConfig
from consentry.signals.registry import headers, values
from consentry.signals.state import signal_state
from consentry.signals.vocabulary import Choice


def account_signals(
    ledger: LedgerStore, policy: Policy, config: SignalsConfig, account_id: str
) -> dict[str, Any] | None:
    """None when the ledger does not know ``account_id``."""
    state = signal_state(ledger, policy, account_id=account_id)
    if len(state) == 0:
        return None
    choice = Choice(bool(state.train[0]), bool(state.answer[0]), config.search)
    said: dict[str, Any] = values(choice)
    said["tdm_reservation"] = int(said["tdm_reservation"])
    return {
        "account": account_id,
        **said,
        "headers": dict(headers(choice)),
        "position": {"seq": state.position.seq, "hash": state.position.hash},
    }
