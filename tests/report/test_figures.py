"""The report's figures against the workspace they describe, each checked by an independent
reading: SQL over the ledger's own tables (folded here in plain Python), the snapshots'
Parquet files and manifests, the certificates folder, and what the CLI prints."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from tests.cli.conftest import invoker
from tests.report.workspace import RECIPIENT, ReportWorkspace

from consentry.report import Options, gather

pytestmark = pytest.mark.slow
SCOPES = ("posts", "interactions", "assistant")


@pytest.fixture(scope="module")
def report(built: ReportWorkspace) -> dict[str, Any]:
    with built.ws.ledger() as ledger:
        return gather(built.ws, ledger)


def _db(built: ReportWorkspace) -> sqlite3.Connection:
    return sqlite3.connect(built.ws.root / "ledger.db")


def _oracle_state(built: ReportWorkspace) -> tuple[dict[tuple[str, str], Counter[int]], int]:
    """Granted/refused per (purpose, scope) by the rule written out: per account, purpose and
    scope the latest decision by (time, ledger order) covering it; no recipient-bound rows;
    accounts whose last status is deleted or erased left out."""
    with _db(built) as db:
        rows = db.execute(
            "SELECT account_id, purpose, scope, decision, at_us, seq FROM ledger_entries"
            " WHERE kind = 'consent' AND recipient IS NULL"
        ).fetchall()
        states = db.execute(
            "SELECT account_id, status, at_us, seq FROM ledger_entries WHERE kind <> 'consent'"
        ).fetchall()
    status: dict[str, tuple[tuple[int, int], str]] = {}
    for account, st, at, seq in states:
        if st is not None and (account not in status or status[account][0] < (at, seq)):
            status[account] = ((at, seq), st)
    known = {a for a, *_ in states}
    gone = {a for a, (_, st) in status.items() if st in ("deleted", "erased")}
    latest: dict[tuple[str, str, str], tuple[tuple[int, int], str]] = {}
    for account, purpose, scope, decision, at, seq in rows:
        for s in [scope] if scope else SCOPES:
            key = (account, purpose, s)
            if key not in latest or latest[key][0] < (at, seq):
                latest[key] = ((at, seq), decision)
    out: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
    for (account, purpose, scope), (_, decision) in latest.items():
        if account not in gone:
            out[(purpose, scope)][1 if decision == "grant" else 0] += 1
    return out, len(known - gone)


def test_consent_state_equals_the_ledger_folded_independently(
    built: ReportWorkspace, report: dict[str, Any]
) -> None:
    expected, accounts = _oracle_state(built)
    state = report["consent"]["state"]
    assert state["accounts"] == accounts
    seen = 0
    for p in state["purposes"]:
        for s in p["scopes"]:
            counts = expected.get((p["purpose"], s["name"]), Counter())
            assert (s["granted"], s["refused"]) == (counts[1], counts[0]), (p["purpose"], s)
            assert s["opt_in_rate"] == pytest.approx(counts[1] / accounts, abs=1e-4)
            assert sum(c["granted"] for c in s["countries"]) == s["granted"]
            seen += s["granted"] + s["refused"]
    assert seen > 0  # the demo holds decisions: the comparison compared something


def test_countries_equal_the_accounts_table_of_the_ledger(
    built: ReportWorkspace, report: dict[str, Any]
) -> None:
    with _db(built) as db:
        rows = db.execute(
            "SELECT account_id, country, status, at_us, seq FROM ledger_entries"
            " WHERE kind <> 'consent' ORDER BY at_us, seq"
        ).fetchall()
    country: dict[str, str] = {}
    status: dict[str, str] = {}
    for account, c, st, _, _ in rows:
        if c is not None:
            country[account] = c
        if st is not None:
            status[account] = st
        country.setdefault(account, "??")
    living = [a for a in country if status.get(a) not in ("deleted", "erased")]
    assert report["consent"]["state"]["countries"] == dict(Counter(country[a] for a in living))


def test_weekly_withdrawals_and_gpc_equal_the_entries(
    built: ReportWorkspace, report: dict[str, Any]
) -> None:
    with _db(built) as db:
        rows = db.execute(
            "SELECT account_id, purpose, coalesce(scope, ''), coalesce(recipient, ''), decision,"
            " source, at_us, seq FROM ledger_entries WHERE kind = 'consent' ORDER BY at_us, seq"
        ).fetchall()
    last: dict[tuple[str, ...], str] = {}
    expected: Counter[tuple[str, str, str]] = Counter()
    for account, purpose, scope, recipient, decision, source, at, _ in rows:
        day = datetime.fromtimestamp(at / 1e6, UTC).date()
        week = (day - timedelta(days=day.weekday())).isoformat()
        key = (account, purpose, scope, recipient)
        expected[(week, purpose, "grants" if decision == "grant" else "refusals")] += 1
        if decision == "deny" and last.get(key) == "grant":
            expected[(week, purpose, "withdrawals")] += 1
        if decision == "deny" and source == "gpc":
            expected[(week, purpose, "gpc")] += 1
        last[key] = decision
    got: Counter[tuple[str, str, str]] = Counter()
    for w in report["consent"]["weeks"]:
        assert date.fromisoformat(w["week"]).weekday() == 0
        for k in ("grants", "refusals", "withdrawals", "gpc"):
            if w[k]:
                got[(w["week"], w["purpose"], k)] = w[k]
    assert got == expected
    assert sum(n for (_, _, k), n in got.items() if k == "withdrawals") >= 1
    assert sum(n for (_, p, k), n in got.items() if k == "gpc" and p == "fine_tune") >= 1


def test_snapshots_equal_their_parquet_and_manifests(
    built: ReportWorkspace, report: dict[str, Any]
) -> None:
    by_id = {s["snapshot_id"]: s for s in report["snapshots"]}
    assert len(by_id) == 2
    for folder in built.snapshots:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        row = by_id[manifest["snapshot_id"]]
        content = sum(pq.read_metadata(p).num_rows for p in (folder / "data").glob("*"))
        liked = sum(pq.read_metadata(p).num_rows for p in (folder / "interactions").glob("*"))
        assert row["content_records"] == content == manifest["counts"]["included"] > 0
        assert row["interaction_records"] == liked
        # What `snapshot list` and the compliance tables count: both kinds of record.
        assert row["records"] == content + liked
        assert row["purpose"] == "train"
        assert row["recipient"] == manifest["recipient"]
        assert row["internal"] is (manifest["recipient"] is None)
        assert row["ledger"]["seq"] == manifest["ledger"]["seq"]
        assert {e["reason"]: e["items"] for e in row["excluded"]} == {
            k: v for k, v in manifest["counts"]["excluded"].items() if v
        }
        assert row["pii_replaced"] == manifest["counts"]["pii_replaced"]
        assert row["verify"] == "ok"


def test_recipients_equal_the_compliance_tables_and_the_cli(
    built: ReportWorkspace, report: dict[str, Any]
) -> None:
    holders = {h["recipient"]: h for h in report["recipients"]}
    assert set(holders) == {"(internal)", RECIPIENT}
    with _db(built) as db:
        for name, h in holders.items():
            sent = db.execute(
                "SELECT COUNT(*) FROM compliance_events WHERE recipient = ?", (name,)
            ).fetchone()[0]
            held = db.execute(
                "SELECT COALESCE(SUM(records), 0) FROM deliveries WHERE coalesce(recipient,"
                " '(internal)') = ?",
                (name,),
            ).fetchone()[0]
            attested = db.execute(
                "SELECT COUNT(DISTINCT delivery_id) FROM compliance_attestations"
                " WHERE recipient = ?",
                (name,),
            ).fetchone()[0]
            assert (h["events_sent"], h["records_held"]) == (sent, held)
            assert h["acknowledged"] == 0 and h["pending"] == sent
            assert h["attested"] == attested
    assert holders[RECIPIENT]["events_sent"] > 0
    shown = json.loads(
        invoker()("recipient", "show", RECIPIENT, "--json", "-w", str(built.ws.root)).stdout
    )
    assert shown["pending_events"] == holders[RECIPIENT]["pending"]
    assert len(shown["snapshots"]) == holders[RECIPIENT]["snapshots"] == 1


def test_overdue_deadline_appears_as_the_compliance_command_judges_it(
    built: ReportWorkspace,
) -> None:
    late = datetime(2099, 1, 1, tzinfo=UTC)
    with built.ws.ledger() as ledger:
        data = gather(built.ws, ledger, Options(at=late, verify_snapshots=False))
    holders = {h["recipient"]: h for h in data["recipients"]}
    assert holders[RECIPIENT]["overdue"] == holders[RECIPIENT]["pending"] > 0
    assert holders[RECIPIENT]["deadline"] is not None
    result = invoker()(
        "compliance", "overdue", "--at", "2099-01-01T00:00:00Z", "-w", str(built.ws.root), code=1
    )
    assert f"{holders[RECIPIENT]['overdue']:,}" in result.stdout


def test_erasures_ledger_models_and_ropa(built: ReportWorkspace, report: dict[str, Any]) -> None:
    certificates = sorted((built.ws.root / "certificates").glob("erasure-*.json"))
    assert [e["certificate"] for e in report["erasures"]] == [p.name for p in certificates]
    assert report["erasures"][0]["account_id"] == built.erased
    with _db(built) as db:
        count, last = db.execute("SELECT COUNT(*), MAX(seq) FROM ledger_entries").fetchone()
    assert report["ledger"]["entries"] == count
    assert sum(d["entries"] for d in report["ledger"]["entries_per_day"]) == count
    head = invoker()("ledger", "head", "-w", str(built.ws.root)).stdout.strip()
    assert f"{report['ledger']['head']['seq']}:{report['ledger']['head']['hash']}" == head
    assert report["ledger"]["head"]["seq"] == last
    with _db(built) as db:
        (registered,) = db.execute("SELECT COUNT(*) FROM models").fetchone()
    assert len(report["models"]) == registered
    purposes = [a["purpose"] for a in report["ropa"]["activities"]]
    assert purposes == list(built.ws.policy().purposes)
    assert all(a["recipients"][0]["name"] == RECIPIENT for a in report["ropa"]["activities"])


def test_since_leaves_out_what_came_before(built: ReportWorkspace) -> None:
    future = datetime(2099, 1, 1, tzinfo=UTC)
    with built.ws.ledger() as ledger:
        data = gather(built.ws, ledger, Options(since=future, verify_snapshots=False))
    assert data["snapshots"] == [] and data["erasures"] == [] and data["consent"]["weeks"] == []
    assert data["ledger"]["entries_per_day"] == []
    # The state is as of the head whatever the period: the same people granted.
    assert data["consent"]["state"]["accounts"] > 0


def test_a_changed_snapshot_shows_failed(built: ReportWorkspace, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built.snapshots[0], copy)
    from consentry.report.gather import _from_manifest

    shard = next((copy / "data").glob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[:-10] + b"0123456789")
    assert _from_manifest(copy, True)["verify"] == "failed"
