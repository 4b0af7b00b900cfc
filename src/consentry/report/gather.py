"""The report's figures, gathered from the workspace: the ledger, the snapshots' manifests, the
compliance feed, the erasure certificates and the recipients.

Each figure comes from the library function the CLI prints it with (``recorded_snapshots`` for
``snapshot list``, ``ComplianceFeed`` for ``recipient list`` and ``compliance overdue``,
``verify_files`` for ``snapshot verify --offline``), so the report and the commands agree.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from consentry import __version__
from consentry.compliance.attestations import Attestations
from consentry.compliance.feed import ComplianceFeed
from consentry.compliance.recipients import DEFAULT_ACK_DAYS, Recipients, holder_key
from consentry.errors import ConsentryError
from consentry.ledger import LedgerStore
from consentry.models.exposure import exposures_of
from consentry.models.lineage import Models
from consentry.report import consent
from consentry.report.health import last_verification
from consentry.report.ropa import record_of_processing
from consentry.snapshot.inspect import excluded_in_order, recorded_snapshots
from consentry.snapshot.verify import verify_files
from consentry.workspace import Workspace

FORMAT: Final = "consentry-report/1"
_DAY_US: Final = consent.DAY_US


@dataclass(frozen=True, slots=True)
class Options:
    #: Only what happened since then: weeks, snapshots, erasures, entries per day.
    since: datetime | None = None
    #: Re-check every snapshot's files (checksums, Merkle root); off, the last result is not
    #: known and the status says so.
    verify_snapshots: bool = True
    #: The time deadlines are judged at (default: now).
    at: datetime | None = None


def gather(ws: Workspace, ledger: LedgerStore, options: Options | None = None) -> dict[str, Any]:
    """Every section of the report, as JSON-ready values."""
    options = options or Options()
    policy = ws.policy()
    at = options.at or datetime.now(UTC)
    head = ledger.head()
    return {
        "format": FORMAT,
        "generated": at.isoformat(),
        "consentry_version": __version__,
        "since": None if options.since is None else options.since.isoformat(),
        "ledger": ledger_health(ws, ledger, options.since),
        "consent": {
            "state": consent.current_state(ledger, policy),
            "weeks": consent.timeline(ledger, policy, options.since),
        },
        "snapshots": snapshots(ledger, options),
        "recipients": recipients(ledger, at),
        "erasures": erasures(ws, options.since),
        "models": models(ledger, policy.retrain_within_days, at),
        "ropa": record_of_processing(ws, ledger, policy),
        "head": {"seq": head.seq, "hash": head.hash},
    }


# ---- ledger health -------------------------------------------------------------------------------


def ledger_health(ws: Workspace, ledger: LedgerStore, since: datetime | None) -> dict[str, Any]:
    head = ledger.head()
    rows = ledger.query(
        "SELECT recorded_us / ? AS day, COUNT(*) FROM ledger_entries WHERE recorded_us >= ?"
        " GROUP BY recorded_us / ? ORDER BY day",
        (_DAY_US, consent.since_us(since), _DAY_US),
    )
    epoch = date(1970, 1, 1)
    per_day = [
        {"day": (epoch + timedelta(days=int(d))).isoformat(), "entries": int(n)} for d, n in rows
    ]
    return {
        "head": {"seq": head.seq, "hash": head.hash},
        "entries": ledger.count(),
        "last_verification": last_verification(ws),
        "entries_per_day": per_day,
    }


# ---- snapshots -----------------------------------------------------------------------------------


def snapshots(ledger: LedgerStore, options: Options) -> list[dict[str, Any]]:
    """Every snapshot the workspace built, internal or delivered, oldest first."""
    out = []
    for found in recorded_snapshots(ledger):
        d = found.delivery
        if options.since is not None and d.created < options.since:
            continue
        row: dict[str, Any] = {
            "snapshot_id": d.snapshot_id,
            "purpose": d.purpose,
            "recipient": d.recipient,
            "internal": d.recipient is None,
            "created": d.created.isoformat(),
            "ledger": {"seq": d.ledger_seq, "head": d.ledger_head},
            "records": d.records,
            "accounts": d.accounts,
            "present": found.present,
            "verify": "missing" if not found.present else "not checked",
            "problems": [],
            "input": None,
            "content_records": None,
            "interaction_records": None,
            "excluded": [],
            "pii_replaced": {},
        }
        if found.present:
            row.update(_from_manifest(Path(d.path), options.verify_snapshots))
        out.append(row)
    return out


def _from_manifest(folder: Path, check: bool) -> dict[str, Any]:
    try:
        report = verify_files(folder)
    except ConsentryError as exc:
        return {"verify": "failed", "problems": [str(exc)]}
    m = report.manifest
    counts = m.counts
    found: dict[str, Any] = {
        "input": counts.get("input"),
        "content_records": counts.get("included"),
        "interaction_records": counts.get("interactions", {}).get("included", 0),
        "excluded": [{"reason": r, "items": n} for r, n in excluded_in_order(m) if n],
        "pii_replaced": dict(sorted(counts.get("pii_replaced", {}).items())),
    }
    if check:
        found["verify"] = "ok" if report.ok else "failed"
        found["problems"] = report.problems
    return found


# ---- recipients ----------------------------------------------------------------------------------


def recipients(ledger: LedgerStore, at: datetime) -> list[dict[str, Any]]:
    """Each holder (the internal snapshots first): records held, events sent, acknowledged,
    pending, overdue and its deadline, and the snapshots it attested."""
    feed = ComplianceFeed(ledger)
    overdue = {holder_key(o.recipient): o for o in feed.overdue(at)}
    held: dict[str, tuple[int, int]] = {}
    for found in recorded_snapshots(ledger):  # what `snapshot list` lists, as it counts them
        key = holder_key(found.delivery.recipient)
        snaps, records = held.get(key, (0, 0))
        held[key] = (snaps + 1, records + found.delivery.records)
    sent = {
        str(r[0]): int(r[1])
        for r in ledger.query(
            "SELECT recipient, COUNT(*) FROM compliance_events GROUP BY recipient"
        )
    }
    attested = _attestations(ledger)
    holders: list[tuple[str | None, int, str | None]] = [(None, DEFAULT_ACK_DAYS, None)]
    holders += [(r.name, r.ack_days, r.contact) for r in Recipients(ledger).list()]
    out = []
    for name, days, contact in holders:
        key = holder_key(name)
        through = feed.acknowledged(name)
        acked = int(
            ledger.query(
                "SELECT COUNT(*) FROM compliance_events WHERE recipient = ? AND event_id <= ?",
                (key, through),
            )[0][0]
        )
        late = overdue.get(key)
        snaps, records = held.get(key, (0, 0))
        row: dict[str, Any] = {
            "recipient": key,
            "internal": name is None,
            "contact": contact,
            "ack_days": days,
            "snapshots": snaps,
            "records_held": records,
            "events_sent": sent.get(key, 0),
            "acknowledged": acked,
            "acknowledged_through": through,
            "pending": feed.pending(name),
            "overdue": 0 if late is None else late.events,
            "oldest_overdue": None if late is None else late.oldest.isoformat(),
            "deadline": None if late is None else late.deadline.isoformat(),
        }
        row["attested"] = attested.get(key, 0)
        out.append(row)
    return out


def _attestations(ledger: LedgerStore) -> dict[str, int]:
    """Per holder, the snapshots whose deletions it attested (``compliance feed``'s
    ``attested``): the latest attestation of each snapshot, counted once."""
    return Counter(a.recipient for a in Attestations(ledger).latest().values())


# ---- erasures and models -------------------------------------------------------------------------


def erasures(ws: Workspace, since: datetime | None) -> list[dict[str, Any]]:
    """Every erasure certificate the workspace issued (GDPR art. 17), oldest first."""
    folder = ws.certificates_dir
    out = []
    for path in sorted(folder.glob("erasure-*.json")) if folder.is_dir() else []:
        try:
            doc = json.loads(path.read_text("utf-8"))
            erased_at = datetime.fromisoformat(str(doc["erased_at"]))
            row = {
                "certificate": path.name,
                "account_id": str(doc["account_id"]),
                "erased_at": erased_at.isoformat(),
                "ledger_entry": int(doc["ledger"]["erasure_entry"]),
                "snapshots": len(doc.get("snapshots", [])),
                "deletion_events": sum(
                    int(s.get("deletion_events", 0)) for s in doc.get("snapshots", [])
                ),
                "valid": True,
            }
        except (ValueError, KeyError, TypeError) as exc:
            row = {"certificate": path.name, "valid": False, "problem": str(exc)}
            out.append(row)
            continue
        if since is None or erased_at >= since:
            out.append(row)
    return out


def models(ledger: LedgerStore, retrain_within_days: int, at: datetime) -> list[dict[str, Any]]:
    """Every registered model (``consentry model list``), with its exposure as ``consentry
    model exposure`` counts it: the records of its snapshots a compliance event has named."""
    out = []
    for exposure in exposures_of(ledger, Models(ledger).all(), retrain_within_days):
        m = exposure.model.to_json()
        deadline = exposure.deadline
        out.append(
            {
                "id": m["id"],
                "recipient": m["recipient"],
                "name": m["name"],
                "version": m["version"],
                "trained_at": m["trained_at"],
                "snapshots": len(m["snapshots"]),
                "records": m["records"],
                "exposed_records": exposure.records,
                "exposed_accounts": exposure.accounts,
                "deadline": deadline.isoformat() if deadline else None,
                "overdue": exposure.overdue(at),
                "retired": m["retired"],
            }
        )
    return out
