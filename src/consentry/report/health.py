"""The ledger's last verification: walked when a report is made (``consentry report``), its
outcome kept in the workspace so that the console shows it without walking millions of entries
on every page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from consentry.errors import LedgerIntegrityError
from consentry.ledger import LedgerStore
from consentry.outputs import write_file
from consentry.workspace import Workspace

#: In the workspace: the outcome of the last full walk of the chain.
VERIFICATION_NAME: Final = "last-verification.json"


def verify_and_record(ws: Workspace, ledger: LedgerStore) -> dict[str, Any]:
    """Walk the whole chain now (``ledger verify``'s check) and keep the outcome."""
    at = datetime.now(UTC).isoformat()
    try:
        report = ledger.verify()
        doc: dict[str, Any] = {
            "at": at,
            "ok": True,
            "entries": report.entries,
            "head": {"seq": report.head.seq, "hash": report.head.hash},
        }
    except LedgerIntegrityError as exc:
        doc = {"at": at, "ok": False, "problem": str(exc), "first_bad_entry": exc.seq}
    payload = json.dumps(doc, indent=2).encode("utf-8") + b"\n"
    write_file(ws.root / VERIFICATION_NAME, lambda fh: fh.write(payload), remember=False)
    return doc


def last_verification(ws: Workspace) -> dict[str, Any] | None:
    """The outcome of the last walk, or None when none was recorded (or the record is not one
    this module wrote)."""
    try:
        doc = json.loads((ws.root / VERIFICATION_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("ok"), bool) else None
