"""Consent in figures: who granted and refused each purpose, per scope and country (as of the
ledger's head), and what changed week by week (grants, refusals, withdrawals, GPC signals).

The state is the ledger's own fold (``LedgerStore.consent_state``, the rule every snapshot
applies), so a figure here is the one a snapshot built at the same head would act on. The
weekly counts come from the entries themselves: a withdrawal is a ``deny`` whose previous
decision on the same account, purpose, scope and recipient (by time, ties by ledger order) was a
``grant``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.ledger import LedgerStore
from consentry.ledger.entries import to_us
from consentry.model import AccountStatus
from consentry.policy import Policy

DAY_US: Final = 86_400_000_000
#: Accounts that no longer count among the people a purpose could concern.
GONE: Final = (AccountStatus.DELETED.value, AccountStatus.ERASED.value)
#: The country of an account whose country is unknown, in tables and charts.
UNKNOWN_COUNTRY: Final = "??"

_TIMELINE_SQL: Final = (
    "SELECT account_id, purpose, coalesce(scope, '') AS scope, coalesce(recipient, '') AS"
    " recipient, decision, coalesce(source, '') AS source, at_us, seq FROM ledger_entries"
    " WHERE kind = 'consent'"
)


def week_of(day: date) -> date:
    """The Monday that starts ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def current_state(ledger: LedgerStore, policy: Policy) -> dict[str, Any]:
    """Per purpose, scope and country: accounts, granted, refused, opt-in rate (granted over
    the accounts that still exist; refusals include none of the policy's defaults)."""
    accounts = ledger.account_states()
    living = accounts.filter(pc.invert(pc.is_in(accounts["status"], value_set=pa.array(GONE))))
    country_of = pc.fill_null(living["country"], UNKNOWN_COUNTRY)
    per_country = _counts(country_of)
    total = living.num_rows
    state = ledger.consent_state()
    # Decisions of deleted or erased accounts concern nobody any more.
    state = state.filter(pc.is_in(state["account_id"], value_set=living["account_id"]))
    idx = pc.index_in(state["account_id"], value_set=living["account_id"])
    country = country_of.take(idx)
    table = pa.table(
        {
            "purpose": state["purpose"],
            "scope": state["scope"],
            "country": country,
            "decision": state["decision"],
        }
    )
    grouped = table.group_by(["purpose", "scope", "country", "decision"]).aggregate(
        [([], "count_all")]
    )
    cells: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for p, s, c, d, n in zip(*(grouped[k].to_pylist() for k in grouped.column_names), strict=True):
        cells[(p, s, c)][1 if d == 1 else 0] += int(n)
    purposes = []
    for purpose in policy.purposes:
        scopes = []
        for scope in [str(s) for s in policy.scopes]:
            countries = []
            granted_all = refused_all = 0
            for c in sorted(per_country):
                refused, granted = cells.get((purpose, scope, c), [0, 0])
                granted_all += granted
                refused_all += refused
                countries.append(_row(c, per_country[c], granted, refused))
            scopes.append({**_row(scope, total, granted_all, refused_all), "countries": countries})
        purposes.append(
            {"purpose": purpose, "default": str(policy.default_decision), "scopes": scopes}
        )
    return {"accounts": total, "countries": per_country, "purposes": purposes}


def _counts(column: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    counted = pc.value_counts(column)
    return {
        str(v["values"]): int(v["counts"]) for v in counted.to_pylist() if v["values"] is not None
    }


def _row(name: str, accounts: int, granted: int, refused: int) -> dict[str, Any]:
    rate = round(granted / accounts, 4) if accounts else 0.0
    return {
        "name": name,
        "accounts": accounts,
        "granted": granted,
        "refused": refused,
        "opt_in_rate": rate,
    }


def timeline(ledger: LedgerStore, policy: Policy, since: datetime | None) -> list[dict[str, Any]]:
    """Per ISO week (its Monday) and purpose: grants, refusals, withdrawals and GPC signals
    honoured (refusals sent by a browser's Global Privacy Control)."""
    start = 0 if since is None else to_us(since)
    rows = ledger.query_arrow(_TIMELINE_SQL)
    if rows.num_rows == 0:
        return []
    deny = pc.equal(rows["decision"], "deny").to_numpy(zero_copy_only=False)
    at = rows["at_us"].to_numpy(zero_copy_only=False).astype(np.int64)
    # The previous decision of the same account, purpose, scope and recipient, by (time,
    # ledger order): a sort over the group codes, in numpy (a window function in SQLite costs
    # several times as much over millions of entries).
    groups = [_codes(rows[c]) for c in ("recipient", "scope", "purpose", "account_id")]
    seq = rows["seq"].to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.lexsort((seq, at, *groups))
    same = np.ones(len(order) - 1, dtype=bool)
    for g in groups:
        same &= g[order][1:] == g[order][:-1]
    withdrawn = np.zeros(len(order), dtype=bool)
    sorted_deny = deny[order]
    withdrawn[order[1:]] = same & sorted_deny[1:] & ~sorted_deny[:-1]
    keep = at >= start
    rows, deny, withdrawn, at = rows.filter(pa.array(keep)), deny[keep], withdrawn[keep], at[keep]
    if rows.num_rows == 0:
        return []
    days = at // DAY_US
    epoch = date(1970, 1, 1)
    # Monday-based weeks: 1970-01-01 was a Thursday, so day 4 (1970-01-05) is a Monday.
    monday = days - (days - 4) % 7
    gpc = deny & pc.equal(rows["source"], "gpc").to_numpy(zero_copy_only=False)
    table = pa.table(
        {
            "purpose": rows["purpose"],
            "week": pa.array(monday),
            "grant": pa.array((~deny).astype(np.int64)),
            "deny": pa.array(deny.astype(np.int64)),
            "withdrawn": pa.array(withdrawn.astype(np.int64)),
            "gpc": pa.array(gpc.astype(np.int64)),
        }
    )
    grouped = table.group_by(["purpose", "week"]).aggregate(
        [("grant", "sum"), ("deny", "sum"), ("withdrawn", "sum"), ("gpc", "sum")]
    )
    known = list(policy.purposes)
    out = [
        {
            "week": (epoch + timedelta(days=int(w))).isoformat(),
            "purpose": p,
            "grants": int(g),
            "refusals": int(d),
            "withdrawals": int(wd),
            "gpc": int(gp),
        }
        for p, w, g, d, wd, gp in zip(
            grouped["purpose"].to_pylist(),
            grouped["week"].to_pylist(),
            grouped["grant_sum"].to_pylist(),
            grouped["deny_sum"].to_pylist(),
            grouped["withdrawn_sum"].to_pylist(),
            grouped["gpc_sum"].to_pylist(),
            strict=True,
        )
    ]
    rank = {p: i for i, p in enumerate(known)}
    return sorted(out, key=lambda r: (r["week"], rank.get(r["purpose"], len(rank)), r["purpose"]))


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Dense integer codes of a column's values (equal values, equal codes)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def since_us(since: datetime | None) -> int:
    return 0 if since is None else to_us(since.astimezone(UTC))
