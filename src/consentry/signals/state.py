"""Each account's choice, as the platform publishes it to crawlers, from the ledger at a
position: may a public post of the account be used to ``train``, or to ``answer``?

The answer is the snapshot's own rule (``consentry.policy.verdicts``) asked about one public
post per account: the account's effective decision for scope ``posts`` (the only scope public
pages show) or, where it never decided, the policy's default for its country; and the account
must be one whose public posts could be used at all (active, not protected, of age). So a
signal says yes only where a snapshot would include the account's public posts, and a
withdrawal flips it at the next read of the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.ledger import LedgerStore, Position, Resolved
from consentry.model import ContentKind, Reason, Scope, Visibility
from consentry.policy import FRAME_SCHEMA, Policy, verdicts

TRAIN: Final = "train"
ANSWER: Final = "answer"
#: The purposes a crawler signal speaks of, in the order of the state's columns.
SIGNAL_PURPOSES: Final = (TRAIN, ANSWER)

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class SignalState:
    """Per account (``account_id``, sorted), whether its public posts may be used to train
    and to answer, as of ``position``."""

    position: Position
    account_id: pa.Array
    train: Mask
    answer: Mask

    def __len__(self) -> int:
        return len(self.account_id)

    def combo(self) -> npt.NDArray[np.int8]:
        """Per account, its choice as one small code: ``train + 2 * answer``."""
        out: npt.NDArray[np.int8] = (self.train.astype(np.int8) + 2 * self.answer).astype(np.int8)
        return out


def _decision_column(accounts: pa.Array, consent: pa.Table, purpose: str) -> pa.Array:
    """Per account: its decision (1/0) for ``purpose`` over scope ``posts``, null if none."""
    chosen = consent.filter(
        pc.and_(pc.equal(consent["purpose"], purpose), pc.equal(consent["scope"], Scope.POSTS))
    )
    if chosen.num_rows == 0:
        return pa.nulls(len(accounts), pa.int8())
    where = pc.index_in(accounts, value_set=chosen["account_id"].combine_chunks())
    return chosen["decision"].combine_chunks().take(where)


def _usable(accounts: pa.Table, consent: pa.Table, policy: Policy, purpose: str, on: date) -> Mask:
    if purpose not in policy.purposes:
        return np.zeros(accounts.num_rows, dtype=np.bool_)
    ids = accounts["account_id"].combine_chunks()
    n = len(ids)
    frame = pa.table(
        {
            "kind": pa.repeat(pa.scalar(ContentKind.POST.value), n),
            "visibility": pa.repeat(pa.scalar(Visibility.PUBLIC.value), n),
            "deleted": pa.repeat(pa.scalar(False), n),
            "account_known": pa.repeat(pa.scalar(True), n),
            "status": accounts["status"],
            "protected": accounts["protected"],
            "birth_date": accounts["birth_date"],
            "country": accounts["country"],
            "consent": _decision_column(ids, consent, purpose),
            "share": pa.nulls(n, pa.int8()),
        },
        schema=FRAME_SCHEMA,
    )
    codes = verdicts(frame, policy, purpose, recipient=False, on=on)
    out: Mask = codes == Reason.ELIGIBLE
    return out


def signal_state(
    ledger: LedgerStore,
    policy: Policy,
    resolved: Resolved | None = None,
    *,
    account_id: str | None = None,
    on: date | None = None,
) -> SignalState:
    """Every account's (or one account's) signals as of ``resolved`` (the head by default);
    ``on`` is the date ages are computed at (today by default)."""
    resolved = ledger.resolve(None) if resolved is None else resolved
    today = datetime.now(UTC).date() if on is None else on
    accounts = ledger.account_states(resolved, account_id=account_id)
    consent = ledger.consent_state(
        resolved,
        purposes=[p for p in SIGNAL_PURPOSES if p in policy.purposes],
        account_id=account_id,
    )
    ids = accounts["account_id"].combine_chunks()
    return SignalState(
        position=resolved.position,
        account_id=ids,
        train=_usable(accounts, consent, policy, TRAIN, today),
        answer=_usable(accounts, consent, policy, ANSWER, today),
    )
