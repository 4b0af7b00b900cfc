"""An account's choices as the account is shown them: ``consentry consent show``, ``consentry
export`` and ``GET /v1/me/consent`` say the same thing, from here.

Per purpose and scope of the policy, the decision in force (the ledger's fold: the latest
decision covering the scope wins) or, where the account never decided, the policy's default for
its country. A ``share`` decision naming a recipient counts only for that recipient, so it is
shown as that recipient sees the account's share choice, one recipient at a time.

A Global Privacy Control signal records a deny of ``share`` only while the account has made no
``share`` decision of any kind: one naming a single recipient is a choice too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import pyarrow as pa

from consentry.ledger import LedgerEntry, LedgerStore, Resolved
from consentry.ledger.entries import EntryKind, to_us
from consentry.model import SHARE, Decision
from consentry.policy.loader import Policy

#: How a decision is shown to people; a default says it is one, and which.
_WORDS: Final = {Decision.GRANT: "granted", Decision.DENY: "denied"}
_DEFAULT_KIND: Final = {Decision.GRANT: "opt-out default", Decision.DENY: "opt-in default"}


@dataclass(frozen=True, slots=True)
class Decided:
    decision: int  # 1 grant, 0 deny
    seq: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Choice:
    purpose: str
    scope: str
    decision: Decision
    #: True when the account never decided: the policy's default for its country.
    default: bool
    since: datetime | None = None
    entry: int | None = None
    #: For ``share`` only: the one recipient this choice is about (None: every recipient).
    recipient: str | None = None

    @property
    def words(self) -> str:
        """ "granted", "denied", "denied (opt-in default)", …"""
        said = _WORDS[self.decision]
        return f"{said} ({_DEFAULT_KIND[self.decision]})" if self.default else said


def choices(
    policy: Policy,
    country: str | None,
    decided: Mapping[tuple[str, str], Decided],
    *,
    purposes: Iterable[str] | None = None,
    recipient: str | None = None,
) -> list[Choice]:
    """Every purpose (or those asked) × scope of the policy: the decision in force, or the
    policy's default for ``country``."""
    out = []
    for purpose in policy.purposes if purposes is None else purposes:
        about = recipient if purpose == SHARE else None
        for scope in policy.scopes:
            row = decided.get((purpose, scope.value))
            if row is None:
                default = policy.default_for(country, purpose)
                out.append(Choice(purpose, scope.value, default, True, recipient=about))
                continue
            decision = Decision.GRANT if row.decision == 1 else Decision.DENY
            out.append(Choice(purpose, scope.value, decision, False, row.at, row.seq, recipient))
    return out


def decided_of(state: pa.Table) -> dict[tuple[str, str], Decided]:
    """``LedgerStore.consent_state`` rows of one account, by (purpose, scope)."""
    return {
        (r["purpose"], r["scope"]): Decided(int(r["decision"]), int(r["seq"]), r["at"])
        for r in state.to_pylist()
    }


def share_recipients(entries: Iterable[LedgerEntry]) -> list[str]:
    """The recipients the account's ``share`` decisions name, sorted."""
    return sorted(
        {
            e.recipient
            for e in entries
            if e.kind is EntryKind.CONSENT and e.purpose == SHARE and e.recipient
        }
    )


def entries_as_of(entries: Iterable[LedgerEntry], resolved: Resolved) -> list[LedgerEntry]:
    """The entries that count as of a position (by sequence, and by time when bounded)."""
    return [
        e for e in entries if e.seq <= resolved.position.seq and to_us(e.at) <= resolved.at_bound
    ]


def recipient_choices(
    ledger: LedgerStore,
    policy: Policy,
    resolved: Resolved,
    account_id: str,
    country: str | None,
    recipients: Iterable[str],
) -> list[Choice]:
    """For each recipient, the account's ``share`` choice per scope as that recipient sees it
    (its own decisions and the account's general ones, the latest winning)."""
    out: list[Choice] = []
    for name in recipients:
        state = ledger.consent_state(
            resolved, purposes=[SHARE], recipient=name, account_id=account_id
        )
        out += choices(policy, country, decided_of(state), purposes=[SHARE], recipient=name)
    return out


def share_choice(entries: Iterable[LedgerEntry]) -> LedgerEntry | None:
    """The account's latest ``share`` decision of any kind (general, scoped or naming one
    recipient); while there is none, a Global Privacy Control signal records a deny of share."""
    found = None
    for e in entries:
        if e.kind is EntryKind.CONSENT and e.purpose == SHARE:
            found = e
    return found


def current_decisions(ledger: LedgerStore, account_id: str) -> list[dict[str, object]]:
    """The decisions in force for ``account_id`` at the head, machine-readable and in the
    history's words (``grant``/``deny``): per purpose and scope those counting for every
    recipient (``recipient`` null), then, per recipient its share decisions name, ``share``
    as that recipient sees it. Scopes never decided are absent (the policy default applies)."""
    resolved = ledger.resolve(None)
    general = ledger.consent_state(resolved, account_id=account_id)
    parts: list[tuple[str | None, pa.Table]] = [(None, general)]
    for name in share_recipients(ledger.account_history(account_id)):
        seen = ledger.consent_state(
            resolved, purposes=[SHARE], recipient=name, account_id=account_id
        )
        parts.append((name, seen))
    return [
        {
            "purpose": key[0],
            "scope": key[1],
            "recipient": name,
            "decision": (Decision.GRANT if d.decision == 1 else Decision.DENY).value,
            "since": d.at.isoformat(),
            "entry": d.seq,
        }
        for name, state in parts
        for key, d in decided_of(state).items()
    ]
