"""Signals benchmark (issue 16.2): robots.txt for 1,000,000 accounts.

    .venv/bin/python -m benchmarks.bench_signals                       # full size, ~ 1-2 minutes
    .venv/bin/python -m benchmarks.bench_signals --accounts 100000 --runs 1

Figures (medians of ``--runs``):
  baseline  read the state the signals come from: account states and consent state at the head
  robots    the whole ``consentry signals robots`` work: state, each account's choice (the
            eligibility rule), handles joined, every rule written to a file     goal < 10 s

The ledger (SQLite, in a temporary folder) is built once with the bulk appender, outside the
timings: an account-created entry per account (a tenth protected, some minors), then a train
decision for a third of them and an answer decision for a sixth. Handles are synthetic and
given as an array, as the content store would return them (its read is not timed).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.common import Figure, parser, repeat, report
from consentry.ledger import LedgerStore, open_ledger
from consentry.ledger.bulk import account_payloads, decision_payloads
from consentry.ledger.entries import ATTR_BIT
from consentry.policy import load_policy
from consentry.signals import parse_signals, publish, signal_state, write_robots

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BATCH = 200_000
GOAL_S = 10.0


def build(ledger: LedgerStore, n: int) -> None:
    mask = sum(ATTR_BIT[a] for a in ("country", "birth_date", "protected", "status"))
    for start in range(0, n, BATCH):
        idx = np.arange(start, min(n, start + BATCH))
        m = len(idx)
        birth = np.where(idx % 50 == 0, np.datetime64("2015-01-01"), np.datetime64("1990-01-01"))
        accounts = pa.table(
            {
                "account_id": pa.array([f"acct-{i:08d}" for i in idx]),
                "attr_mask": pa.array(np.full(m, mask, dtype=np.int64)),
                "created": pa.array(np.ones(m, dtype=np.bool_)),
                "country": pa.array(np.where(idx % 2 == 0, "FR", "US").astype(object)),
                "birth_date": pa.array(birth, pa.date32()),
                "protected": pa.array(idx % 10 == 0),
                "status": pa.array(np.full(m, "active", dtype=object)),
                "at": pa.array(np.full(m, T0), pa.timestamp("us", tz="UTC")),
            }
        )
        ledger.append_tables([accounts], account_payloads)
    for purpose, every in (("train", 3), ("answer", 6)):
        chosen = np.arange(0, n, every)
        for start in range(0, len(chosen), BATCH):
            idx = chosen[start : start + BATCH]
            m = len(idx)
            decisions = pa.table(
                {
                    "account_id": pa.array([f"acct-{i:08d}" for i in idx]),
                    "purpose": pa.array(np.full(m, purpose, dtype=object)),
                    "scope": pa.array(np.full(m, "", dtype=object)),
                    "decision": pa.array(np.where(idx % 2 == 0, "grant", "deny").astype(object)),
                    "recipient": pa.nulls(m, pa.string()),
                    "source": pa.array(np.full(m, "web", dtype=object)),
                    "notice_version": pa.nulls(m, pa.string()),
                    "at": pa.array(np.full(m, T0), pa.timestamp("us", tz="UTC")),
                }
            )
            ledger.append_tables([decisions], decision_payloads)
    ledger.checkpoint()


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--accounts", type=int, default=1_000_000)
    args = p.parse_args()
    n = args.accounts
    policy = load_policy()
    config = parse_signals({}, "<default>")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ledger = open_ledger(f"sqlite:///{folder / 'ledger.db'}", create=True)
        build(ledger, n)
        resolved = ledger.resolve(None)

        def baseline() -> int:
            accounts = ledger.account_states(resolved)
            consent = ledger.consent_state(resolved, purposes=["train", "answer"])
            return int(accounts.num_rows + consent.num_rows)

        def robots() -> int:
            state = signal_state(ledger, policy, resolved)
            handles = pc.utf8_replace_slice(state.account_id, 0, 5, "user_")
            pub = publish(state, config, handles)
            with (folder / "robots.txt").open("wb") as fh:
                return write_robots(pub, fh)

        base_s, _ = repeat(args.runs, baseline)
        robots_s, rules = repeat(args.runs, robots)
        size = (folder / "robots.txt").stat().st_size
        ledger.close()
    fig = Figure("robots.txt", robots_s, items=n, goal=f"< {GOAL_S:.0f} s")
    fig.met = fig.median_s < GOAL_S
    fig.notes = {"rules": rules[0], "bytes": size}
    figures = [Figure("baseline: read account and consent state", base_s, items=n), fig]
    report(f"signals, {n:,} accounts", figures, args.json)
    print(f"  {rules[0]:,} rules, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
