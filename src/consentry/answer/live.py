"""One worker's live answers: the index, kept up with the ledger by a thread of its own.

The thread polls the ledger's head (a primary-key lookup) every ``interval`` seconds; when it
moved, it reads which accounts the new entries are about and folds those accounts' entries
again (``AccountTable.fetch``, outside the lock), then swaps the result in under the lock, which
requests hold only while they gather (a millisecond). Every worker does the same on its own, so
a withdrawal is seen by all of them within ``interval`` plus one fold. New imports of the
content store are looked for every ``import_interval`` seconds and merged (their segments only).
The same polling serves SQLite and PostgreSQL: one code path, measured under 1 s either way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import pyarrow as pa

from consentry.answer.index import AnswerIndex, Verdicts
from consentry.content.store import ContentStore
from consentry.ledger import LedgerStore, open_ledger
from consentry.policy import Policy

log = logging.getLogger("consentry.answer")

#: Seconds between two looks at the ledger's head: the freshness bound, less one fold.
POLL_INTERVAL: Final = 0.1
#: Seconds between two looks for new imports in the content store.
IMPORT_INTERVAL: Final = 1.0
_HEAD_SQL: Final = "SELECT coalesce(MAX(seq), 0) FROM ledger_entries"
_CHANGED_SQL: Final = (
    "SELECT DISTINCT account_id FROM ledger_entries WHERE seq > ? AND seq <= ?"
    " AND account_id IS NOT NULL"
)


def head_seq(ledger: LedgerStore) -> int:
    return int(ledger.query(_HEAD_SQL)[0][0])


class LiveAnswers:
    """The answer index of one worker and the thread that keeps it fresh."""

    def __init__(
        self,
        db_url: str,
        store: ContentStore,
        policy: Policy,
        *,
        interval: float = POLL_INTERVAL,
        import_interval: float = IMPORT_INTERVAL,
    ) -> None:
        self._url = db_url
        self._store = store
        self._policy = policy
        self._interval = interval
        self._import_interval = import_interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ledger: LedgerStore | None = None
        self.index = AnswerIndex(policy)
        self._marker_names: frozenset[str] = frozenset()
        #: Set whenever the index moves (long-polls of ``/v1/changes`` wait on it).
        self.moved = threading.Condition()

    def start(self, index: AnswerIndex | None = None) -> None:
        """Build the index (logging progress), or take ``index`` as built, and start following
        the ledger."""
        self._ledger = open_ledger(self._url, create=True)
        if index is not None:
            self.index = index
        else:
            self._build()
        self._thread = threading.Thread(target=self._run, name="consentry-answer", daemon=True)
        self._thread.start()

    def _build(self) -> None:
        assert self._ledger is not None
        started = time.monotonic()
        seen = [0]

        def progress(n: int) -> None:
            seen[0] += n
            if seen[0] % 1_000_000 < n:
                log.info("answer index: %d items read", seen[0])

        self.index = AnswerIndex.build(self._store, self._ledger, self._policy, progress=progress)
        log.info(
            "answer index: %d items, %d accounts, %.1f bytes/item, built in %.2f s",
            len(self.index),
            len(self.index.accounts),
            self.index.item_bytes / max(1, len(self.index)),
            time.monotonic() - started,
        )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._ledger is not None:
            self._ledger.close()

    @property
    def seq(self) -> int:
        return self.index.seq

    def verdicts(self, ids: Sequence[str], purpose: str) -> Verdicts:
        with self._lock:
            return self.index.verdicts(ids, purpose)

    # ---- following the ledger ----------------------------------------------------------------

    def _run(self) -> None:
        next_import = time.monotonic() + self._import_interval
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
                if time.monotonic() >= next_import:
                    next_import = time.monotonic() + self._import_interval
                    self.refresh_imports()
            except Exception:  # a database hiccup must not end the thread: retried next time
                log.exception("answer index: refresh failed, retrying")

    def refresh(self) -> int:
        """Catch up with the ledger's head now; returns the entries followed."""
        ledger = self._ledger
        assert ledger is not None
        head = head_seq(ledger)
        known = self.index.seq
        today = datetime.now(UTC).date()
        if today != self.index.accounts.on:
            with self._lock:
                self.index.accounts.roll_over(today)
        if head <= known:
            return 0
        rows = ledger.query(_CHANGED_SQL, (known, head))
        ids = pa.array(sorted({str(r[0]) for r in rows}), pa.string())
        fetched = self.index.accounts.fetch(ledger, head, ids)
        with self._lock:
            self.index.accounts.apply(fetched)
        with self.moved:
            self.moved.notify_all()
        return head - known

    def refresh_imports(self) -> int:
        """Merge imports committed since the index was built; returns the items read."""
        # The folder's names first: parsing every commit marker each second would cost more as
        # imports accumulate (each recorded assistant conversation is one).
        folder = self._store.root / "imports"
        names = frozenset(p.name for p in folder.iterdir()) if folder.is_dir() else frozenset()
        if names == self._marker_names:
            return 0
        self._marker_names = names
        if self._store.committed() == self.index.imports:
            return 0
        ledger = self._ledger
        assert ledger is not None
        with self._lock:
            return self.index.apply_imports(self._store, ledger)
