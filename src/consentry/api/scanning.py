"""Compliance scans from the service, so that deletion events follow a withdrawal as they do
from the CLI.

Reads that report compliance state (a recipient's feed, a person's whereis and export) scan
first, as their CLI commands do. A withdrawal through the API asks for a scan in the background
instead of making the person wait for it: ``ScanTrigger`` runs at most one scan at a time per
worker and folds requests that arrive meanwhile into the next one (a burst of withdrawals costs
one scan, not one each). Scans from several workers are safe together: the scanner takes its
own lock.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from consentry.compliance.scanner import Scanner, ScanResult
from consentry.content.store import ContentStore
from consentry.ledger import LedgerStore
from consentry.workspace import Workspace

log = logging.getLogger("consentry.api.scan")
#: Pause between two background scans: a steady stream of withdrawals is scanned about
#: once a second rather than continuously.
PAUSE_S: Final = 1.0


def scan(ws: Workspace, ledger: LedgerStore) -> ScanResult:
    return Scanner(ledger, ContentStore(ws.content_dir), ws.policy(), ws.secret()).run()


class ScanTrigger:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="scan", daemon=True)
            self._thread.start()
        self._wanted.set()

    def _loop(self) -> None:
        with self._ws.ledger() as ledger:
            while not self._stop.is_set():
                if not self._wanted.wait(0.5):
                    continue
                self._wanted.clear()
                try:
                    scan(self._ws, ledger)
                except Exception:
                    log.exception("background compliance scan failed")
                self._stop.wait(PAUSE_S)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
