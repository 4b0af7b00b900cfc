"""Invoices on the terms in force when the month ended: a plan re-priced or re-assigned later
does not rewrite a past month's bill (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consentry.api.metering import Meter
from consentry.api.plans import Plan, Plans
from consentry.compliance.recipients import Recipients
from consentry.errors import UsageError
from consentry.ledger import open_ledger


def _us(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1e6)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_past_month_is_billed_on_its_own_terms(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    with open_ledger(url, create=True) as ledger:
        Recipients(ledger).add("acme-ai")
        plans = Plans(ledger)
        plans.put(Plan("pro", 5_000_00, 1_000, 200, 600), at_us=_us(2026, 1, 1))
        plans.put(Plan("enterprise", 42_000_00, 1_000_000, 10, 6000), at_us=_us(2026, 1, 1))
        assert plans.in_force("acme-ai", _us(2026, 1, 15)) is None
        plans.assign("acme-ai", "pro", at_us=_us(2026, 1, 10))
        # March: pro is re-priced; April: acme-ai moves to enterprise.
        plans.put(Plan("pro", 6_000_00, 1_000, 300, 600), at_us=_us(2026, 3, 5))
        plans.assign("acme-ai", "enterprise", at_us=_us(2026, 4, 2))
        ledger.execute(
            "INSERT INTO metered_files (recipient, snapshot_id, path, period, records,"
            " delivered_us)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ("acme-ai", "s1", "data/part-00000.parquet", "2026-02", 3_500, _us(2026, 2, 3)),
        )
        metering = Meter(ledger)
        now = datetime(2026, 11, 26, tzinfo=UTC)
        february = metering.invoice("acme-ai", "2026-02", now=now)
        assert february.plan is not None and february.plan.monthly_price_cents == 5_000_00
        assert february.overage_records == 2_500 and february.overage_cents == 500
        march = metering.invoice("acme-ai", "2026-03", now=now)
        assert march.plan is not None and march.plan.monthly_price_cents == 6_000_00
        april = metering.invoice("acme-ai", "2026-04", now=now)
        assert april.plan is not None and april.plan.name == "enterprise"
        assert metering.invoice("acme-ai", "2025-12", now=now).plan is None
        assert plans.of("acme-ai") == plans.in_force("acme-ai", _us(2026, 11, 26))
        for impossible in ("0000-01", "2026-13", "26-01"):  # year 0 was a 500 (schemathesis)
            with pytest.raises(UsageError, match="YYYY-MM"):
                metering.invoice("acme-ai", impossible, now=now)
