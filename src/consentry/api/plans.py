"""Plans (what a licensee pays for) and which recipient is on which plan.

Money is kept in integer cents; the overage price is per 1,000 records beyond those included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from consentry.compliance.recipients import Recipients
from consentry.errors import UsageError
from consentry.ledger import LedgerStore
from consentry.times import now_us

_COLUMNS: Final = (
    "name, monthly_price_cents, included_records, overage_cents_per_1000, requests_per_minute"
)

_P_COLUMNS: Final = ", ".join("p." + c.strip() for c in _COLUMNS.split(","))


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    monthly_price_cents: int
    included_records: int
    overage_cents_per_1000: int
    requests_per_minute: int

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "monthly_price_cents": self.monthly_price_cents,
            "included_records": self.included_records,
            "overage_cents_per_1000": self.overage_cents_per_1000,
            "requests_per_minute": self.requests_per_minute,
        }


def _plan(row: tuple[object, ...]) -> Plan:
    name, price, included, overage, rate = row
    return Plan(str(name), int(price), int(included), int(overage), int(rate))  # type: ignore[call-overload]


class Plans:
    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger

    def put(self, plan: Plan, *, at_us: int | None = None) -> Plan:
        """Create or replace a plan (a change applies from now on, to every recipient on it)."""
        for field, value in (
            ("price", plan.monthly_price_cents),
            ("included records", plan.included_records),
            ("overage price", plan.overage_cents_per_1000),
        ):
            if value < 0:
                raise UsageError(f"a plan's {field} is never negative")
        if plan.requests_per_minute <= 0:
            raise UsageError("a plan's request rate must be at least 1 per minute")
        if not plan.name or len(plan.name) > 64:
            raise UsageError("a plan needs a name of 1 to 64 characters")
        now = now_us() if at_us is None else at_us
        with self.ledger.transaction():  # the plan and its recipients' history at once
            self.ledger.execute(
                f"INSERT INTO plans ({_COLUMNS}, updated_us) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET"
                " monthly_price_cents = excluded.monthly_price_cents,"
                " included_records = excluded.included_records,"
                " overage_cents_per_1000 = excluded.overage_cents_per_1000,"
                " requests_per_minute = excluded.requests_per_minute,"
                " updated_us = excluded.updated_us",
                (
                    plan.name,
                    plan.monthly_price_cents,
                    plan.included_records,
                    plan.overage_cents_per_1000,
                    plan.requests_per_minute,
                    now,
                ),
            )
            self.ledger.execute(
                f"INSERT INTO recipient_plan_history (recipient, since_us, {_COLUMNS})"
                f" SELECT rp.recipient, ?, {_P_COLUMNS} FROM recipient_plans rp"
                " JOIN plans p ON p.name = rp.plan WHERE rp.plan = ?",
                (now, plan.name),
            )
        return self.get(plan.name)

    def get(self, name: str) -> Plan:
        rows = self.ledger.query(f"SELECT {_COLUMNS} FROM plans WHERE name = ?", (name,))
        if not rows:
            raise UsageError(f"no plan {name!r} (create it with `consentry plan set`)")
        return _plan(rows[0])

    def list(self) -> list[Plan]:
        return [_plan(r) for r in self.ledger.query(f"SELECT {_COLUMNS} FROM plans ORDER BY name")]

    def assign(self, recipient: str, plan: str, *, at_us: int | None = None) -> Plan:
        """Put ``recipient`` on ``plan``; ``NotFoundError`` for an unregistered recipient (a
        plan stored under a name nobody registered would pass to whoever registers it later)."""
        Recipients(self.ledger).get(recipient)
        found = self.get(plan)
        now = now_us() if at_us is None else at_us
        with self.ledger.transaction():
            self.ledger.execute(
                "INSERT INTO recipient_plans (recipient, plan, since_us) VALUES (?, ?, ?)"
                " ON CONFLICT (recipient) DO UPDATE SET plan = excluded.plan,"
                " since_us = excluded.since_us",
                (recipient, plan, now),
            )
            self.ledger.execute(
                f"INSERT INTO recipient_plan_history (recipient, since_us, {_COLUMNS})"
                f" SELECT ?, ?, {_P_COLUMNS} FROM plans p WHERE p.name = ?",
                (recipient, now, plan),
            )
        return found

    def of(self, recipient: str) -> Plan | None:
        rows = self.ledger.query(
            f"SELECT {_P_COLUMNS} FROM plans p"
            " JOIN recipient_plans rp ON rp.plan = p.name WHERE rp.recipient = ?",
            (recipient,),
        )
        return _plan(rows[0]) if rows else None

    def in_force(self, recipient: str, at_us: int) -> Plan | None:
        """The terms ``recipient`` was under at ``at_us`` (None before any plan)."""
        rows = self.ledger.query(
            f"SELECT {_COLUMNS} FROM recipient_plan_history WHERE recipient = ?"
            " AND since_us <= ? ORDER BY since_us DESC, id DESC LIMIT 1",
            (recipient, at_us),
        )
        return _plan(rows[0]) if rows else None
