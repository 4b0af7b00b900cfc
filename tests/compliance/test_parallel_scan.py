"""A compliance scan with 2 worker processes (delivery maps read and judged in parallel) emits
the same events as one process: same records, reasons, causes, order and event ids."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from consentry.compliance.deliveries import Deliveries
from consentry.compliance.recipients import Recipients
from consentry.compliance.scanner import Scanner
from consentry.content.store import ContentStore
from consentry.platform.canonical import import_canonical
from consentry.snapshot.build import BuildSpec
from consentry.snapshot.workspace_build import workspace_builder
from consentry.workspace import Workspace


def _decisions(demo: Path, out: Path, decision: str, every: int, minutes_ago: int) -> Path:
    """``decision`` for train, fine-tuning and sharing, by every ``every``-th account."""
    out.mkdir()
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
    accounts = [json.loads(line)["id"] for line in (demo / "accounts.jsonl").open()]
    with (out / "consent.jsonl").open("w") as fh:
        for a in accounts[::every]:
            for purpose in ("train", "fine_tune", "share"):
                row = {"account_id": a, "purpose": purpose, "decision": decision, "at": at}
                fh.write(json.dumps(row) + "\n")
    return out


def _changes(demo: Path, out: Path) -> Path:
    """Withdrawals of a third of the accounts, and a tenth of the items deleted."""
    _decisions(demo, out, "deny", 3, 1)
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    with (out / "content.jsonl").open("w") as fh:
        for i, line in enumerate((demo / "content.jsonl").open()):
            if i % 10 == 0:
                fh.write(json.dumps(dict(json.loads(line), deleted_at=at)) + "\n")
    return out


def _events(ws: Workspace, workers: int) -> pa.Table:
    with ws.ledger() as ledger:
        store = ContentStore(ws.content_dir)
        result = Scanner(ledger, store, ws.policy(), ws.secret(), workers=workers).run()
        assert result.total > 0
        events = ledger.query_arrow("SELECT * FROM compliance_events ORDER BY event_id", ())
    return events.drop_columns([c for c in events.column_names if c.endswith("_us")])


@pytest.mark.slow
def test_two_workers_emit_the_same_events_as_one(demo_platform: Path, tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "one")
    import_canonical(ws, demo_platform)
    import_canonical(ws, _decisions(demo_platform, tmp_path / "grants", "grant", 1, 2))
    with ws.ledger() as ledger:
        Recipients(ledger).add("acme")
        for n, (purpose, holder) in enumerate(
            [("train", None), ("fine_tune", None), ("train", "acme"), ("fine_tune", "acme")]
        ):
            builder = workspace_builder(ws, ledger, recipient=holder)
            spec = BuildSpec(purpose=purpose, out=tmp_path / f"s{n}", recipient=holder)
            Deliveries(ledger, ws.deliveries_dir).build(builder, spec)
    import_canonical(ws, _changes(demo_platform, tmp_path / "changes"))
    shutil.copytree(tmp_path / "one", tmp_path / "two")

    one = _events(ws, 1)
    two = _events(Workspace.open(tmp_path / "two"), 2)
    assert one.num_rows > 10
    assert set(one.column("delivery_id").to_pylist()) == {1, 2, 3, 4}  # every map was read
    assert one.equals(two)


def test_workers_must_be_positive(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    with ws.ledger() as ledger, pytest.raises(ValueError, match="at least 1"):
        Scanner(ledger, ContentStore(ws.content_dir), ws.policy(), ws.secret(), workers=0)
