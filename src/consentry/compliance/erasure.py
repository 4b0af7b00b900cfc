"""Erasure (GDPR art. 17): an account's content leaves the workspace, and every holder is told.

Order, chosen so that a crash at any point leaves nothing that could reach a snapshot, and a rerun
finishes the job:

1. the ledger records the erasure (an account change to status ``erased``): from that entry on,
   every build excludes the account (reason ``account_deleted``), whatever the content store holds;
2. the content store drops every version of the account's items, its interactions and its name,
   rewriting the segments that held them, under the import lock, and commits a marker;
3. the compliance scan emits one event per delivered record to every recipient holding one;
4. a certificate (JSON) says what was removed, which snapshots held it, who was notified, and at
   which ledger position. It is issued once: a rerun on an account fully erased keeps it as it
   is and says so; a rerun after a crash finishes the steps left and then issues it, counting
   what the interrupted run removed (journalled beside it).

What the ledger keeps, and why (data minimisation, art. 5(1)(c), against accountability,
art. 5(2) and 7(1)): the erased account's consent decisions stay, with its account id, because
they are the controller's proof that each past use of the content was consented to, which
art. 17(3)(e) (establishment, exercise or defence of legal claims) allows keeping; so are its
account-state entries (country and birth date decided its default and its age). None holds
content, a handle or a name. The hash chain needs every entry's digest, never its content, so
a later version can drop payloads without breaking verification (see ``ledger/entries.py``).
Snapshots already delivered keep pseudonyms only; their holders get compliance events.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from consentry.compliance.clock import now
from consentry.compliance.deliveries import DATA, Deliveries
from consentry.compliance.recipients import holder_of
from consentry.compliance.scanner import ERASURE, Scanner, ScanResult
from consentry.compliance.whereis import where_is
from consentry.content.schema import ACCOUNTS, INTERACTIONS, ITEMS, TableSpec
from consentry.content.store import ContentStore
from consentry.content.writer import ImportWriter, parquet_options
from consentry.errors import UsageError
from consentry.ledger import LedgerStore
from consentry.model import AccountChange, AccountStatus
from consentry.policy import Policy
from consentry.scrub.pseudonym import Pseudonymiser

#: Which column names the owner, per table.
OWNER: Final[tuple[tuple[TableSpec, str], ...]] = (
    (ITEMS, "author_id"),
    (INTERACTIONS, "account_id"),
    (ACCOUNTS, "account_id"),
)
RETAINED: Final = (
    "The ledger keeps the account id, its consent decisions (purpose, scope, decision, time, "
    "source, notice version) and its account-state entries (country, birth date, protection, "
    "status), which decided the eligibility of each past use: the proof that each use was "
    "consented to (GDPR art. 5(2), 7(1), 17(3)(e)). It holds no content, handle or name. "
    "Everything else of the account was removed from the content store."
)


@dataclass
class Removed:
    versions: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    segments_rewritten: int = 0

    def add(self, other: Removed) -> None:
        for mine, theirs in ((self.versions, other.versions), (self.current, other.current)):
            for name, n in theirs.items():
                mine[name] = mine.get(name, 0) + n
        self.segments_rewritten += other.segments_rewritten


@dataclass(frozen=True, slots=True)
class Erasure:
    certificate: dict[str, Any]
    path: Path
    scan: ScanResult
    #: The account was fully erased before: ``certificate`` is the one issued then, untouched.
    already: bool = False


def erase(
    ledger: LedgerStore,
    store: ContentStore,
    policy: Policy,
    secret: bytes,
    account_id: str,
    certificates: Path,
    quarantine: Path | None = None,
) -> Erasure:
    states = ledger.account_states(account_id=account_id)
    if states.num_rows == 0:
        raise UsageError(f"account {account_id!r} is unknown to the ledger: nothing to erase")
    status = states.column("status")[0].as_py()
    if status != AccountStatus.ERASED.value:
        ledger.append([AccountChange(account_id, now(), {"status": AccountStatus.ERASED})])
    erased_seq = _erasure_seq(ledger, account_id)
    certificates.mkdir(parents=True, exist_ok=True)
    path = certificates / f"erasure-{erased_seq:012d}.json"
    if path.exists():
        return _already(path, Scanner(ledger, store, policy, secret).run())
    # What an interrupted run removed is journalled, so that the certificate a rerun issues
    # still says what this erasure removed (the content is gone by then).
    journal = path.with_name(f"{path.stem}.progress.json")
    removed, purged = _journalled(journal)
    removed.add(remove_content(store, account_id))
    purged += purge_quarantine(quarantine, account_id) if quarantine is not None else 0
    _write_atomic(journal, {"removed": asdict(removed), "quarantine_rows_removed": purged})
    scan = Scanner(ledger, store, policy, secret).run()
    position = ledger.head()
    held = where_is(ledger, account_id)
    notified = ledger.query(
        "SELECT recipient, COUNT(*), MIN(event_id), MAX(event_id) FROM compliance_events"
        " WHERE account_id = ? GROUP BY recipient ORDER BY recipient",
        (account_id,),
    )
    certificate = {
        "certificate": "consentry erasure (GDPR art. 17)",
        "account_id": account_id,
        "erased_at": ledger.entry(erased_seq).at.isoformat(),
        "ledger": {"erasure_entry": erased_seq, "seq": position.seq, "head": position.hash},
        "removed_from_content_store": {
            "versions": removed.versions,
            "current_records": removed.current,
            "segments_rewritten": removed.segments_rewritten,
        },
        "quarantine_rows_removed": purged,
        "snapshots": [s.to_json() for s in held.snapshots],
        "recipients_notified": [
            {
                "recipient": holder_of(str(r[0])),
                "events": int(r[1]),
                "first_event": int(r[2]),
                "last_event": int(r[3]),
            }
            for r in notified
        ],
        "events_this_erasure": scan.events.get(ERASURE, 0),
        "retained": RETAINED,
    }
    if not _issue(path, certificate):
        return _already(path, scan)  # another run issued it first
    journal.unlink(missing_ok=True)
    return Erasure(certificate, path, scan)


def _already(path: Path, scan: ScanResult) -> Erasure:
    return Erasure(json.loads(path.read_text("utf-8")), path, scan, already=True)


def _journalled(journal: Path) -> tuple[Removed, int]:
    """What an interrupted run of this erasure removed, per its journal (nothing if none)."""
    try:
        doc = json.loads(journal.read_text("utf-8"))
    except FileNotFoundError:
        return Removed(), 0
    return Removed(**doc["removed"]), int(doc["quarantine_rows_removed"])


def _write_atomic(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    tmp.replace(path)


def _issue(path: Path, certificate: dict[str, Any]) -> bool:
    """Write the certificate at ``path`` unless one is there; False if one was. Linking the
    finished file into place is atomic and refuses to replace, where a rename would not."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(certificate, indent=2) + "\n", "utf-8")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def _erasure_seq(ledger: LedgerStore, account_id: str) -> int:
    rows = ledger.query(
        "SELECT MAX(seq) FROM ledger_entries WHERE account_id = ? AND kind <> 'consent'"
        " AND status = ?",
        (account_id, AccountStatus.ERASED.value),
    )
    return int(rows[0][0])


def remove_content(store: ContentStore, account_id: str) -> Removed:
    """Drop every version of the account's rows from the content store, in place."""
    removed = Removed()
    if not (store.root / "store.json").exists():
        return removed
    writer = ImportWriter(store, source="erasure")
    try:
        previous = store.imports()
        totals: dict[str, dict[str, list[int]]] = {
            name: {k: list(v) for k, v in t.items()}
            for name, t in (previous[-1].totals.items() if previous else [])
        }
        target = pa.scalar(account_id, pa.string())
        for spec, owner in OWNER:
            versions = current = 0
            for bucket in range(store.buckets(spec)):
                cols = [owner, "deleted_at"] if spec is ITEMS else [owner]
                now_rows = store.current(spec, bucket, cols, committed=writer.committed)
                mine = pc.equal(now_rows[owner], target)
                n_current = int(pc.sum(mine).as_py() or 0)
                if n_current and spec.name in totals:
                    totals[spec.name]["rows"][bucket] -= n_current
                    if spec is ITEMS:
                        gone = pc.and_(mine, pc.is_valid(now_rows["deleted_at"]))
                        totals[spec.name]["deleted"][bucket] -= int(pc.sum(gone).as_py() or 0)
                current += n_current
                for segment in store.segments(spec, bucket, writer.committed):
                    table = pq.read_table(segment)
                    hit = pc.fill_null(pc.equal(table[owner], target), False)
                    n = int(pc.sum(hit).as_py() or 0)
                    if n == 0:
                        continue
                    kept = table.filter(pc.invert(hit))
                    tmp = segment.with_suffix(".tmp")
                    pq.write_table(kept, tmp, **parquet_options(spec))
                    tmp.replace(segment)
                    versions += n
                    removed.segments_rewritten += 1
            removed.versions[spec.name] = versions
            removed.current[spec.name] = current
        writer.commit_rewrite(totals)
    except BaseException:
        writer.abort()
        raise
    return removed


def erased_record_ids(ledger: LedgerStore, secret: bytes, snapshot_id: str) -> frozenset[str]:
    """Record ids, in a delivered snapshot, of accounts erased since (and of reposts of their
    items, which followed them): what ``snapshot verify`` can no longer re-derive."""
    delivery = Deliveries(ledger).get(snapshot_id)
    gone = ledger.erased_accounts()
    if delivery is None or len(gone) == 0:
        return frozenset()
    records = delivery.read_map(["tbl", "account_id", "content_id", "origin_id"]).combine_chunks()
    records = records.filter(pc.equal(records["tbl"], DATA))
    of_erased = pc.is_in(records["account_id"], value_set=gone)
    erased_items = records.filter(of_erased)["content_id"]
    follows = pc.fill_null(pc.is_in(records["origin_id"], value_set=erased_items), False)
    chosen = records.filter(pc.or_(of_erased, follows))["content_id"]
    ids = Pseudonymiser(secret, delivery.recipient).contents(chosen)
    return frozenset(ids.to_pylist())


def purge_quarantine(folder: Path, account_id: str) -> int:
    """Remove, from the quarantine files of earlier imports, the rejected rows that carry the
    account's id as a JSON string (whatever the source format named its field); returns how
    many. Rows are matched on the exact quoted id, so another account's rows stay."""
    if not folder.is_dir():
        return 0
    token = json.dumps(account_id)
    removed = 0
    for path in sorted(folder.glob("*.jsonl")):
        kept: list[str] = []
        dropped = 0
        with path.open(encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                row = json.loads(line)
                # Someone else's rows keep no text, only their ids.
                if token in (row.get("raw") or "") or account_id in (row.get("ids") or {}).values():
                    dropped += 1
                else:
                    kept.append(line)
        if dropped:
            tmp = path.with_suffix(".tmp")
            tmp.write_text("".join(kept), "utf-8", errors="surrogateescape")
            tmp.replace(path)
            removed += dropped
    return removed
