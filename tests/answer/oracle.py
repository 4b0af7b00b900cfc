"""The batch eligibility of the build, as the oracle the live answers are checked against:
the ledger's state folded whole (``account_states``, ``consent_state``), attached to the items by
the build's ``StateIndex`` and judged by ``policy.verdicts``, reposts settled after their
originals, as a snapshot census does (duplicates aside: a copied text is no consent matter for
grounding)."""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.ledger import LedgerStore
from consentry.model import Reason
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
    out = verdicts(frame, policy, purpose, recipient=False, on=on)
    return _settle_reposts(items, out)


def _settle_reposts(items: pa.Table, scanned: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    """As the census settles them, one item at a time: an eligible repost takes the verdict of
    what it reposts (followed through reposts of reposts), ``original_unavailable`` when that
    is absent."""
    if "repost_of" not in items.column_names:
        return scanned
    rows = items.select(["content_id", "kind", "repost_of"]).to_pylist()
    row_of = {r["content_id"]: i for i, r in enumerate(rows)}

    def settled(i: int, depth: int) -> int:
        reason = int(scanned[i])
        if reason != Reason.ELIGIBLE or rows[i]["kind"] != "repost":
            return reason
        original = rows[i]["repost_of"]
        if original not in row_of or depth > 8:
            return int(Reason.ORIGINAL_UNAVAILABLE)
        return settled(row_of[original], depth + 1)

    return np.array([settled(i, 0) for i in range(len(rows))], dtype=np.int8)
