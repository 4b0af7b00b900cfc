"""Attach ledger state to content items: the eligibility frame ``verdicts`` decides on.

The account and consent state come from the ledger (``account_states`` / ``consent_state`` as of
one position) and are indexed once; each batch of items is then joined against the index. Row
order is preserved (Arrow hash joins do not keep it, so rows carry their index through).
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from consentry.model import ASSISTANT_KINDS, SHARE, Scope
from consentry.policy.eligibility import FRAME_SCHEMA

_ASSISTANT_KINDS: Final = pa.array(sorted(k.value for k in ASSISTANT_KINDS))
_ROW: Final = "__row"


def item_scope(kind: Any) -> Any:
    """The consent scope governing each content item, from its kind."""
    return pc.if_else(
        pc.is_in(kind, value_set=_ASSISTANT_KINDS), Scope.ASSISTANT.value, Scope.POSTS.value
    )


class StateIndex:
    """The ledger state as of one position, ready to be joined with batches of items.

    ``accounts``: ``account_states()`` output. ``consent``: ``consent_state()`` output holding at
    least ``purpose`` (and ``share`` for recipient snapshots).
    """

    def __init__(self, accounts: pa.Table, consent: pa.Table, purpose: str, *, recipient: bool):
        self.purpose = purpose
        self.recipient = recipient
        self.accounts = accounts.select(
            ["account_id", "country", "birth_date", "protected", "status"]
        ).append_column("account_known", pa.array([True] * accounts.num_rows, pa.bool_()))
        self.consent = self._decisions(consent, purpose, "consent")
        self.share = self._decisions(consent, SHARE, "share") if recipient else None

    @staticmethod
    def _decisions(consent: pa.Table, purpose: str, name: str) -> pa.Table:
        chosen = consent.filter(pc.equal(consent["purpose"], purpose))
        return pa.table(
            {
                "account_id": chosen["account_id"],
                "scope": chosen["scope"],
                name: chosen["decision"].cast(pa.int8()),
                f"{name}_seq": chosen["seq"],
            }
        )

    def frame(
        self,
        items: pa.Table | pa.RecordBatch,
        *,
        author: str = "author_id",
        scope: Scope | None = None,
    ) -> pa.Table:
        """Frame rows in the order of ``items`` (which need ``author``, ``kind``,
        ``visibility`` and ``deleted``), plus ``consent_seq``: the ledger entry that decided.

        ``scope`` overrides the scope derived from each item's kind (interactions are governed
        by the ``interactions`` scope whatever they point at)."""
        n = items.num_rows
        base = pa.table(
            {
                _ROW: pa.array(range(n), pa.int64()),
                "account_id": items.column(author),
                "scope": (
                    pa.array([scope.value] * n, pa.string())
                    if scope is not None
                    else item_scope(items.column("kind"))
                ),
                "kind": items.column("kind"),
                "visibility": items.column("visibility"),
                "deleted": items.column("deleted"),
            }
        )
        joined = base.join(self.accounts, "account_id", join_type="left outer")
        joined = joined.join(self.consent, ["account_id", "scope"], join_type="left outer")
        if self.share is not None:
            joined = joined.join(self.share, ["account_id", "scope"], join_type="left outer")
        joined = joined.sort_by(_ROW)
        share = joined["share"] if self.share is not None else pa.nulls(n, pa.int8())
        columns = {
            "kind": joined["kind"],
            "visibility": joined["visibility"],
            "deleted": pc.fill_null(joined["deleted"], False),
            "account_known": pc.fill_null(joined["account_known"], False),
            "status": joined["status"],
            "protected": pc.fill_null(joined["protected"], False),
            "birth_date": joined["birth_date"],
            "country": joined["country"],
            "consent": joined["consent"],
            "share": share,
        }
        frame = pa.table(columns, schema=FRAME_SCHEMA)
        return frame.append_column("consent_seq", joined["consent_seq"]).append_column(
            "share_seq",
            joined["share_seq"] if self.share is not None else pa.nulls(n, pa.int64()),
        )
