"""One worker's live answers: the index, kept up with the ledger by a thread of its own.

The thread catches up with the ledger's head whenever it moved: on PostgreSQL the ledger's
insert trigger notifies every append (LISTEN/NOTIFY, migration 0012, ``notify.py``), so a
worker hears of it within a round trip; the head (a primary-key lookup) is still polled every
``interval`` seconds, the only way on SQLite and the fallback when a notification is lost or the
listening connection is gone (reconnected at the next look for imports). Catching up reads which
accounts the new entries are about and folds those accounts' entries again
(``AccountTable.fetch``, outside the lock), then swaps the result in under the lock, which
requests hold only while they gather (a millisecond). Every worker does the same on its own, so
a withdrawal is seen by all of them within one notification (PostgreSQL) or ``interval``
(SQLite), plus one fold. New imports of the content store are looked for every
``import_interval`` seconds and merged (their segments only).
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
from consentry.answer.notify import LedgerListener
from consentry.content.store import ContentStore
from consentry.ledger import LedgerStore, open_ledger
from consentry.ledger.postgres import PostgresLedger
from consentry.policy import Policy

log = logging.getLogger("consentry.answer")

#: Seconds between two looks at the ledger's head: the freshness bound, less one fold.
POLL_INTERVAL: Final = 0.1
#: Seconds between two looks at the head while notifications arrive (PostgreSQL): only a lost
#: notification waits for it.
LISTENING_POLL_INTERVAL: Final = 1.0
#: Seconds between two looks for new imports in the content store.
IMPORT_INTERVAL: Final = 1.0
#: Longest wait for a notification at once: how soon ``close`` is heard.
_WAIT_SLICE: Final = 0.25
#: Least seconds between two catch-ups on notifications: under a stream of changes a worker
#: folds what arrived meanwhile in one catch-up instead of one per append, which took its
#: requests' core (freshness stays this plus one fold, well within the second promised).
REFRESH_GAP: Final = 0.05
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
        interval: float | None = None,
        import_interval: float = IMPORT_INTERVAL,
        listen: bool = True,
    ) -> None:
        """``interval``: seconds between looks at the head (default ``POLL_INTERVAL``, or
        ``LISTENING_POLL_INTERVAL`` while notifications arrive); ``listen``: LISTEN on a
        PostgreSQL ledger's appends (off: poll only)."""
        self._url = db_url
        self._store = store
        self._policy = policy
        self._interval = interval
        self._listen = listen
        self._listener: LedgerListener | None = None
        self._listen_failed = False
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
        self._open_listener()
        self._thread = threading.Thread(target=self._run, name="consentry-answer", daemon=True)
        self._thread.start()

    def _build(self) -> None:
        assert self._ledger is not None
        started = time.monotonic()
        seen = [0]
        # From the newest commit marker (no data read): progress as a share of the whole.
        total = max(1, self._store.counts().items)
        # A line every tenth, or every million items on a store larger than ten million.
        step = max(1, min(1_000_000, total // 10))

        def progress(n: int) -> None:
            seen[0] += n
            if seen[0] // step > (seen[0] - n) // step:
                log.info(
                    "answer index: %d of %d items read (%.0f%%, %.1f s)",
                    seen[0],
                    total,
                    100 * seen[0] / total,
                    time.monotonic() - started,
                )

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
        if self._listener is not None:
            self._listener.close()
        if self._ledger is not None:
            self._ledger.close()

    @property
    def listening(self) -> bool:
        """Whether appends are heard as they happen (PostgreSQL), not only polled for."""
        return self._listener is not None

    @property
    def seq(self) -> int:
        return self.index.seq

    def verdicts(self, ids: Sequence[str], purpose: str) -> Verdicts:
        with self._lock:
            return self.index.verdicts(ids, purpose)

    # ---- following the ledger ----------------------------------------------------------------

    def _open_listener(self) -> None:
        if not self._listen or not isinstance(self._ledger, PostgresLedger):
            return
        try:
            self._listener = LedgerListener(self._ledger)
        except Exception:  # polling still keeps the index fresh, only slower
            # Retried every second: said once, not every second of an outage.
            if not self._listen_failed:
                log.exception("answer index: cannot LISTEN on the ledger, polling only")
            self._listen_failed = True
        else:
            if self._listen_failed:
                log.info("answer index: listening on the ledger again")
            self._listen_failed = False

    def _poll_interval(self) -> float:
        if self._interval is not None:
            return self._interval
        return LISTENING_POLL_INTERVAL if self._listener is not None else POLL_INTERVAL

    def _wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (less if stopped); whether an append was notified."""
        listener = self._listener
        if listener is None:
            self._stop.wait(seconds)
            return False
        try:
            return listener.wait(min(seconds, _WAIT_SLICE))
        except Exception:
            log.exception("answer index: lost the ledger's notifications, polling only")
            self._listener = None
            listener.close()
            return False

    def _run(self) -> None:
        # The next poll is due a poll interval after the last one, reckoned afresh each time:
        # losing the notifications shortens the interval at once, not after the longer one.
        last_poll = time.monotonic()
        next_import = time.monotonic() + self._import_interval
        while not self._stop.is_set():
            due = min(last_poll + self._poll_interval(), next_import)
            notified = self._wait(max(0.0, due - time.monotonic()))
            try:
                now = time.monotonic()
                if notified or now >= last_poll + self._poll_interval():
                    if notified and now < last_poll + REFRESH_GAP:
                        self._stop.wait(last_poll + REFRESH_GAP - now)
                    last_poll = time.monotonic()
                    self.refresh()
                if now >= next_import:
                    next_import = now + self._import_interval
                    self.refresh_imports()
                    if self._listener is None:
                        self._open_listener()
                        if self._listener is not None:
                            # What was appended before LISTEN took effect is not notified.
                            last_poll = -float("inf")
            except Exception:  # a database hiccup must not end the thread: retried next time
                log.exception("answer index: refresh failed, retrying")
                self._stop.wait(min(1.0, self._poll_interval()))

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
