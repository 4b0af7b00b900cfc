"""Whether a consent decision may be recorded: the one rule the CLI and the service both apply.

* The account id is one the importers would take (``platform.validation.check_id``).
* An erased account records nothing more (``GoneError``, HTTP 410): its erasure
  (``compliance.erasure``) is an account change to status ``erased``, and a decision after it
  would speak for a person who asked to be forgotten, under an id kept only as proof.
* A ``share`` decision naming a recipient needs that recipient registered (``NotFoundError``):
  a choice about a name nobody registered would pass to whoever registers it later.
* An account the ledger has never seen is allowed (consent may precede content: the platform
  may send a choice before the import that brings the account), and the caller is told so.
"""

from __future__ import annotations

from dataclasses import dataclass

from consentry.compliance.recipients import Recipients
from consentry.errors import GoneError, NotFoundError
from consentry.ids import check_id
from consentry.ledger import LedgerStore
from consentry.model import AccountStatus, ConsentDecision


@dataclass(frozen=True, slots=True)
class Standing:
    """What the ledger knows of an account that decides."""

    #: The ledger holds an account state of it (the account was imported or created).
    known: bool
    #: It was erased: from that entry on, it records nothing.
    erased: bool


def standing(ledger: LedgerStore, account_id: str) -> Standing:
    rows = ledger.query(
        "SELECT COUNT(*), coalesce(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0)"
        " FROM ledger_entries WHERE account_id = ? AND kind <> 'consent'",
        (AccountStatus.ERASED.value, account_id),
    )
    entries, erasures = rows[0]
    return Standing(known=int(entries) > 0, erased=int(erasures) > 0)


def check_decision(
    decision: ConsentDecision, found: Standing, *, recipient_registered: bool = True
) -> None:
    """Refuse ``decision`` when the rules above say so (``recipient_registered``: whether the
    recipient it names, if any, is registered)."""
    check_id(decision.account_id)
    if found.erased:
        raise GoneError(
            f"account {decision.account_id!r} was erased: it records no further decision"
        )
    if decision.recipient and not recipient_registered:
        raise NotFoundError(
            f"unknown recipient {decision.recipient!r}: a share decision can only name a "
            f"registered recipient (`consentry recipient add {decision.recipient}`)"
        )


def recipient_registered(ledger: LedgerStore, decision: ConsentDecision) -> bool:
    return decision.recipient is None or Recipients(ledger).find(decision.recipient) is not None


def vet_decision(ledger: LedgerStore, decision: ConsentDecision) -> Standing:
    """``check_decision`` with what ``ledger`` knows; the account's standing when allowed."""
    check_id(decision.account_id)
    found = standing(ledger, decision.account_id)
    check_decision(decision, found, recipient_registered=recipient_registered(ledger, decision))
    return found
