"""Hypothesis: a model's exposure is exactly the records of its snapshots that a snapshot built
as of the ledger head no longer holds, for the platform's own models and a licensee's alike.
The oracle is the build itself, as in the scanner's property (tests/compliance).

Histories here only ever take away (withdrawals, protection, deactivation and deletion,
erasure): a re-grant does not bring back a record its holder was told to delete, so after one
the head's build may hold a record the model is still exposed on; the scanner's own property
covers reversals. Each model is trained on two snapshots, the second built midway through the
history, so a record can be in both and count once."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.compliance.test_scanner_properties import ACCOUNTS, _apply, _export, item_st

from consentry.compliance.deliveries import Deliveries
from consentry.compliance.recipients import Recipients
from consentry.compliance.scanner import Scanner
from consentry.content.store import ContentStore
from consentry.ledger import AsOf, LedgerStore
from consentry.models import Models, exposure_of
from consentry.platform.canonical import import_canonical
from consentry.snapshot.build import BuildSpec
from consentry.snapshot.workspace_build import workspace_builder
from consentry.workspace import Workspace

taking_st = st.one_of(
    st.tuples(
        st.just("consent"),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(["train", "share"]),
        st.sampled_from([None, "posts", "assistant"]),
        st.just("deny"),
        st.sampled_from([None, "acme"]),
    ),
    st.tuples(
        st.just("account"),
        st.sampled_from(ACCOUNTS),
        st.sampled_from(["protected", "deactivated", "deleted"]),
    ),
    st.tuples(st.just("erase"), st.sampled_from(ACCOUNTS)),
)
HOLDERS: tuple[str | None, ...] = ("acme", None)


def _build(
    ws: Workspace, ledger: LedgerStore, out: Path, holder: str | None
) -> tuple[set[str], str]:
    """A snapshot for ``holder``, recorded as delivered: its records and its id."""
    builder = workspace_builder(ws, ledger, recipient=holder)
    spec = BuildSpec(purpose="train", out=out, recipient=holder, as_of=AsOf())
    delivery = Deliveries(ledger, ws.deliveries_dir).build(builder, spec)[1]
    return set(pq.read_table(out / "data")["record_id"].to_pylist()), delivery.snapshot_id


def _head_build(ws: Workspace, ledger: LedgerStore, out: Path, holder: str | None) -> set[str]:
    """The oracle: a build as of the head, not recorded as a delivery."""
    builder = workspace_builder(ws, ledger, recipient=holder)
    builder.build(BuildSpec(purpose="train", out=out, recipient=holder, as_of=AsOf()))
    return set(pq.read_table(out / "data")["record_id"].to_pylist())


@pytest.mark.slow
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    items=st.lists(item_st, min_size=3, max_size=12),
    before=st.lists(taking_st, max_size=2),
    after=st.lists(taking_st, min_size=1, max_size=4),
    scan_midway=st.booleans(),
)
def test_exposure_is_what_a_head_build_no_longer_holds(
    items: list[tuple[str, str, int]],
    before: list[tuple[Any, ...]],
    after: list[tuple[Any, ...]],
    scan_midway: bool,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _export(root / "export", items)
        ws = Workspace.init(root / "ws")
        import_canonical(ws, root / "export")
        at = datetime.now(UTC) - timedelta(minutes=5)
        with ws.ledger() as ledger:
            Recipients(ledger).add("acme")
            scanner = Scanner(ledger, ContentStore(ws.content_dir), ws.policy(), ws.secret())
            trained: dict[str | None, set[str]] = {h: set() for h in HOLDERS}
            ids: dict[str | None, list[str]] = {h: [] for h in HOLDERS}
            for step, changes in enumerate((before, after)):
                for holder in HOLDERS:
                    out = root / f"s{step}-{holder}"
                    records, snapshot_id = _build(ws, ledger, out, holder)
                    trained[holder] |= records
                    ids[holder].append(snapshot_id)
                for i, change in enumerate(changes):
                    _apply(ws, ledger, change, at + timedelta(seconds=step, milliseconds=i))
                if scan_midway:
                    scanner.run()
            scanner.run()
            for holder in HOLDERS:
                model = Models(ledger).register(holder, "m", "1", ids[holder], datetime.now(UTC))
                found = exposure_of(ledger, model)
                rows = found.rows
                assert rows is not None
                exposed = [r for t, r in zip(rows["table"].to_pylist(),
                                             rows["record_id"].to_pylist(), strict=True)
                           if t == "data"]  # fmt: skip
                assert len(exposed) == len(set(exposed)), "one row per record"
                kept = _head_build(ws, ledger, root / f"head-{holder}", holder)
                assert set(exposed) == trained[holder] - kept, holder
                assert found.records == rows.num_rows
