"""The ledger's changes as a feed: what happened after a position, for the platform's caches.

Each change is one ledger entry, as little of it as a cache needs to know what to forget: its
sequence number, kind, account, and for a decision the purpose, scope and decision, for an
account change the status and protection it set. A cache that holds eligibility for an account
drops it on any change of that account and asks again (``POST /v1/answer/eligible``).
"""

from __future__ import annotations

from typing import Any, Final

from consentry.ledger import LedgerStore

#: Most changes in one answer; the next page starts after the last one's ``seq``.
MAX_CHANGES: Final = 1000
_SQL: Final = (
    "SELECT seq, kind, account_id, purpose, scope, decision, recipient, status, protected,"
    " at_us FROM ledger_entries WHERE seq > ? ORDER BY seq LIMIT ?"
)
_FIELDS: Final = (
    "seq",
    "kind",
    "account_id",
    "purpose",
    "scope",
    "decision",
    "recipient",
    "status",
    "protected",
    "at_us",
)


def changes_since(
    ledger: LedgerStore, since: int, limit: int = MAX_CHANGES
) -> list[dict[str, Any]]:
    """Entries after ``since``, oldest first, at most ``limit``; fields that an entry does not
    set are left out."""
    rows = ledger.query(_SQL, (since, min(limit, MAX_CHANGES)))
    out: list[dict[str, Any]] = []
    for row in rows:
        change = {
            name: value for name, value in zip(_FIELDS, row, strict=True) if value is not None
        }
        if "protected" in change:
            change["protected"] = bool(change["protected"])
        out.append(change)
    return out
