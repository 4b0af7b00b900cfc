"""The migration that records publication and catch-up, on a database holding deliveries made
before it: they count as published and caught up (they were), on both backends."""

from __future__ import annotations

import pytest

from consentry.compliance.deliveries import Deliveries
from consentry.ledger import open_ledger
from consentry.ledger.migrate import migrations


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_earlier_deliveries_are_published_and_caught_up(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(f"{backend}_url"))
    (latest,) = [m for m in migrations(backend) if m.name == "delivery_publication"]
    with open_ledger(url, create=True) as ledger:
        # Back to the schema before it, with a delivery recorded then.
        ledger.execute("DELETE FROM schema_migrations WHERE version = ?", (latest.version,))
        for column in ("published_us", "caught_up"):
            ledger.execute(f"ALTER TABLE deliveries DROP COLUMN {column}")
        ledger.execute(
            "INSERT INTO deliveries VALUES (1, 'snap_old', 'train', NULL, '/x', 1700000000000000,"
            " 3, 'h', 5, 2, '/x.parquet', 'd')"
        )
    with open_ledger(url) as ledger:
        (old,) = Deliveries(ledger).all()
        assert old.snapshot_id == "snap_old" and old.published == old.created
        assert ledger.query("SELECT caught_up FROM deliveries") == [(1,)]
