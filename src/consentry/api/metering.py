"""Metered usage per recipient and month: requests, bytes, and records delivered; invoices.

A file's records count once per recipient, when the file's last byte has been sent (a resumed
download sends it once more at most, and the primary key of ``metered_files`` keeps the count
from doubling). Bytes count every byte sent; requests every authenticated licensee request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from consentry.api.plans import Plan, Plans
from consentry.errors import UsageError
from consentry.ledger import LedgerStore
from consentry.times import now_us

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def current_period(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m")


def check_month(month: str) -> str:
    if not _MONTH.match(month) or not 1970 <= int(month[:4]) <= 9998:
        raise UsageError(f"a month reads YYYY-MM from 1970-01, e.g. 2026-11: {month!r}")
    return month


def _billing_moment(month: str, now: datetime | None) -> int:
    """The last microsecond of ``month``, or now when the month is not over."""
    year, number = int(month[:4]), int(month[5:])
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    last_us = int(following.timestamp() * 1e6) - 1
    return min(last_us, int((now or datetime.now(UTC)).timestamp() * 1e6))


@dataclass(frozen=True, slots=True)
class Usage:
    recipient: str
    period: str
    requests: int
    records: int
    bytes: int

    def to_json(self) -> dict[str, object]:
        return {
            "recipient": self.recipient,
            "period": self.period,
            "requests": self.requests,
            "records": self.records,
            "bytes": self.bytes,
        }


@dataclass(frozen=True, slots=True)
class Invoice:
    recipient: str
    month: str
    plan: Plan | None
    usage: Usage
    overage_records: int
    base_cents: int
    overage_cents: int

    @property
    def total_cents(self) -> int:
        return self.base_cents + self.overage_cents

    def to_json(self) -> dict[str, object]:
        return {
            "recipient": self.recipient,
            "month": self.month,
            "plan": self.plan.to_json() if self.plan else None,
            "usage": self.usage.to_json(),
            "overage_records": self.overage_records,
            "base_cents": self.base_cents,
            "overage_cents": self.overage_cents,
            "total_cents": self.total_cents,
        }


class Meter:
    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger

    def count_request(self, recipient: str, *, bytes_sent: int = 0) -> None:
        self._add(recipient, requests=1, bytes_sent=bytes_sent)

    def count_bytes(self, recipient: str, bytes_sent: int) -> None:
        if bytes_sent:
            self._add(recipient, requests=0, bytes_sent=bytes_sent)

    def _add(self, recipient: str, *, requests: int, bytes_sent: int) -> None:
        self.ledger.execute(
            "INSERT INTO usage_counters (recipient, period, requests, bytes) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (recipient, period) DO UPDATE SET"
            " requests = usage_counters.requests + excluded.requests,"
            " bytes = usage_counters.bytes + excluded.bytes",
            (recipient, current_period(), requests, bytes_sent),
        )

    def count_file(self, recipient: str, snapshot_id: str, path: str, records: int) -> bool:
        """Count a file's records for the recipient, once ever; whether this call counted them."""
        before = self._files(recipient, snapshot_id, path)
        if before:
            return False
        self.ledger.execute(
            "INSERT INTO metered_files (recipient, snapshot_id, path, period, records,"
            " delivered_us) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (recipient, snapshot_id, path) DO NOTHING",
            (recipient, snapshot_id, path, current_period(), records, now_us()),
        )
        return True

    def _files(self, recipient: str, snapshot_id: str, path: str) -> int:
        rows = self.ledger.query(
            "SELECT COUNT(*) FROM metered_files WHERE recipient = ? AND snapshot_id = ?"
            " AND path = ?",
            (recipient, snapshot_id, path),
        )
        return int(rows[0][0])

    def usage(self, recipient: str, period: str | None = None) -> Usage:
        period = check_month(period) if period else current_period()
        counters = self.ledger.query(
            "SELECT requests, bytes FROM usage_counters WHERE recipient = ? AND period = ?",
            (recipient, period),
        )
        records = self.ledger.query(
            "SELECT coalesce(SUM(records), 0) FROM metered_files WHERE recipient = ?"
            " AND period = ?",
            (recipient, period),
        )
        requests, sent = (int(counters[0][0]), int(counters[0][1])) if counters else (0, 0)
        return Usage(recipient, period, requests, int(records[0][0]), sent)

    def invoice(self, recipient: str, month: str, *, now: datetime | None = None) -> Invoice:
        """The month's invoice, on the terms in force at its end (or now, for the month under
        way): a plan changed since does not rewrite a past month's bill."""
        usage = self.usage(recipient, check_month(month))
        plan = Plans(self.ledger).in_force(recipient, _billing_moment(month, now))
        if plan is None:
            return Invoice(recipient, month, None, usage, 0, 0, 0)
        over = max(0, usage.records - plan.included_records)
        overage = (Decimal(over) * plan.overage_cents_per_1000 / 1000).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return Invoice(recipient, month, plan, usage, over, plan.monthly_price_cents, int(overage))
