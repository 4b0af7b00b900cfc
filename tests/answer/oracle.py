"""The batch eligibility of the build, as the oracle the live answers are checked against:
the ledger's state folded whole (``account_states``, ``consent_state``), attached to the items by
the build's ``StateIndex`` and judged by ``policy.verdicts``, exactly as a snapshot census does."""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.ledger import LedgerStore
from consentry.policy import Policy, verdicts
from consentry.policy.frame import StateIndex


def batch_verdicts(
    items: pa.Table, ledger: LedgerStore, policy: Policy, purpose: str, on: date
) -> npt.NDArray[np.int8]:
    state = StateIndex(
        ledger.account_states(),
        ledger.consent_state(purposes=[purpose]),
        purpose,
        recipient=False,
    )
    frame = state.frame(
        pa.table(
            {
                "author_id": items["author_id"],
                "kind": items["kind"],
                "visibility": items["visibility"],
                "deleted": pc.is_valid(items["deleted_at"]),
            }
        )
    )
    return verdicts(frame, policy, purpose, recipient=False, on=on)
