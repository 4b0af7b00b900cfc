"""One account's consent state and country, read cheaply for the service's hot path.

``LedgerStore.consent_state(account_id=…)`` and ``account_states(account_id=…)`` answer the same
questions through Arrow reads (ADBC) and vectorised folds built for millions of rows: ~1.5 and
~3 ms per call on PostgreSQL for one account's handful of entries. Here: one plain indexed query
(the head and the account's entries, in one statement, hence one consistent snapshot), folded
in Python by the rule of docs/concepts.md: per purpose and scope, the latest decision covering the
scope wins, by time, ties by ledger order; a share decision naming a recipient counts only when
that recipient is asked about. ``tests/api/test_api_account_view.py`` checks it against the
ledger's own folds on generated histories.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us
from consentry.ledger.state import SCOPES
from consentry.model import ACCOUNT_ATTRIBUTES, AccountStatus
from consentry.policy.choices import Decided

_COUNTRY_BIT: Final = 1 << ACCOUNT_ATTRIBUTES.index("country")
#: The columns of a row ``fold_account`` folds; ``account_rows(tagged=True)`` adds one after them.
ROW_WIDTH: Final = 11


def account_rows(where: str, *, tagged: bool = False) -> str:
    """The rows ``fold_account`` folds, of the accounts ``where`` selects; ``tagged`` adds a
    last column naming each row's account (NULL on the head row), for reads of several. The
    first row carries the head (kind '~head', seq = the head's sequence number)."""
    tag = ", NULL" if tagged else ""
    account = ", account_id" if tagged else ""
    return (
        f"SELECT '~head', '', '', '', '', coalesce(MAX(seq), 0), 0, 0, NULL, '', ''{tag}"
        " FROM ledger_entries UNION ALL"
        " SELECT kind, coalesce(purpose, ''), coalesce(scope, ''), coalesce(decision, ''),"
        " coalesce(recipient, ''), seq, at_us, coalesce(attr_mask, 0), country,"
        f" coalesce(status, ''), coalesce(source, ''){account}"
        f" FROM ledger_entries WHERE {where}"
    )


ACCOUNT_ROWS: Final = account_rows("account_id = ?")


@dataclass(frozen=True, slots=True)
class AccountView:
    account_id: str
    head_seq: int
    country: str | None
    #: Whether the ledger holds an account state of it (an account change or creation).
    known: bool
    #: Whether it was ever erased (``compliance.erasure``: an account change to ``erased``).
    erased: bool
    decided: dict[tuple[str, str], Decided]  # (purpose, scope) → the decision in force
    #: Where each decision in force came from (its entry's ``source``), by sequence number:
    #: the privacy center shows it, and reading it here spares the page a second query.
    sources: dict[int, str]


def read_account(ledger: LedgerStore, account_id: str, recipient: str | None) -> AccountView:
    return fold_account(ledger.query(ACCOUNT_ROWS, (account_id,)), account_id, recipient)


def fold_account(
    rows: Iterable[Sequence[Any]], account_id: str, recipient: str | None
) -> AccountView:
    """The view of the rows of ``ACCOUNT_ROWS``, whichever driver read them."""
    head_seq = 0
    # (purpose, scope) → (at_us, seq, grant) of the latest decision covering it so far.
    latest: dict[tuple[str, str], tuple[int, int, int]] = {}
    country_at: tuple[int, int] | None = None
    country: str | None = None
    known = erased = False
    source_of: dict[int, str] = {}
    for kind, purpose, scope, decision, to, seq, at_us, mask, ctry, status, source in rows:
        if kind == "~head":
            head_seq = int(seq)
            continue
        order = (int(at_us), int(seq))
        if kind != "consent":
            known = True
            erased = erased or status == AccountStatus.ERASED.value
            if int(mask) & _COUNTRY_BIT and (country_at is None or order > country_at):
                country_at, country = order, ctry or None
            continue
        if to and to != recipient:
            continue
        value = (*order, 1 if decision == "grant" else 0)
        source_of[int(seq)] = str(source)
        for s in (scope,) if scope else SCOPES:
            key = (purpose, s)
            if key not in latest or order > latest[key][:2]:
                latest[key] = value
    decided = {k: Decided(v[2], v[1], from_us(v[0])) for k, v in latest.items()}
    sources = {d.seq: source_of[d.seq] for d in decided.values()}
    return AccountView(account_id, head_seq, country, known, erased, decided, sources)
