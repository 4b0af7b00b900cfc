"""Who gets my data: the registered recipients, what each receives, and the person's ``share``
choice as that recipient sees it (``GET /v1/me/recipients``; the privacy center shows the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter

from consentry.api.account_view import read_account
from consentry.api.auth import PersonDep, State
from consentry.compliance.recipients import Recipient, Recipients
from consentry.ledger import LedgerStore
from consentry.model import SHARE
from consentry.policy import Policy
from consentry.policy.choices import Choice, choices

router = APIRouter(prefix="/v1/me", tags=["people"])


@dataclass(frozen=True, slots=True)
class RecipientShare:
    recipient: Recipient
    #: The purposes of the snapshots delivered to it so far (of anyone's records).
    receives: list[str]
    #: The account's share choice per scope, as this recipient sees it.
    share: list[Choice]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.recipient.name,
            "contact": self.recipient.contact,
            "receives": self.receives,
            "share": [
                {
                    "scope": c.scope,
                    "decision": c.decision.value,
                    "default": c.default,
                    "since": c.since.isoformat() if c.since else None,
                    "entry": c.entry,
                }
                for c in self.share
            ],
        }


def recipients_of(ledger: LedgerStore, policy: Policy, account_id: str) -> list[RecipientShare]:
    delivered: dict[str, list[str]] = {}
    for name, purpose in ledger.query(
        "SELECT DISTINCT recipient, purpose FROM deliveries WHERE recipient IS NOT NULL"
        " ORDER BY recipient, purpose"
    ):
        delivered.setdefault(str(name), []).append(str(purpose))
    out = []
    for recipient in Recipients(ledger).list():
        view = read_account(ledger, account_id, recipient.name)
        share = choices(
            policy, view.country, view.decided, purposes=[SHARE], recipient=recipient.name
        )
        out.append(RecipientShare(recipient, delivered.get(recipient.name, []), share))
    return out


@router.get("/recipients", summary="Who gets my data: the recipients and my share choice")
def my_recipients(person: PersonDep, state: State) -> dict[str, Any]:
    """Every registered recipient (name, contact, the purposes it receives) and the caller's
    ``share`` choice per scope as that recipient sees it."""
    with state.pool.ledger() as ledger:
        found = recipients_of(ledger, state.policy, person.account_id)
    return {"account_id": person.account_id, "recipients": [r.to_json() for r in found]}
