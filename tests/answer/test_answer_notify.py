"""On PostgreSQL a worker hears of an append by notification (migration 0012's trigger, LISTEN
in ``consentry.answer.notify``), not at its next look at the head: with polling slowed to 10 s,
a deny written on another connection still reaches two workers' verdicts within a second, and
without listening it does not."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from consentry.answer import AnswerIndex, LiveAnswers
from consentry.answer.live import REFRESH_GAP
from consentry.content.store import ContentStore
from consentry.ledger import LedgerStore, open_ledger
from consentry.model import AccountChange, ConsentDecision, Decision
from consentry.platform.canonical import import_canonical
from consentry.policy.loader import default_policy_text, parse_policy
from consentry.workspace import Workspace

POLICY = parse_policy(default_policy_text(), source="test")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
IDS = ["c0", "c1", "c2"]
#: A poll this slow cannot deliver a change within the second the test allows.
SLOW_POLL = 10.0


def _items() -> pa.Table:
    return pa.table(
        {
            "content_id": IDS,
            "author_id": ["ok"] * 3,
            "kind": ["post"] * 3,
            "visibility": ["public"] * 3,
            "deleted_at": pa.array([None] * 3, pa.timestamp("us", tz="UTC")),
            "repost_of": pa.array([None] * 3, pa.string()),
        }
    )


def _workers(url: str, writer: LedgerStore, tmp_path: Path, *, listen: bool) -> list[LiveAnswers]:
    store = ContentStore(tmp_path / "content")
    workers = []
    for _ in range(2):
        live = LiveAnswers(
            url, store, POLICY, interval=SLOW_POLL, import_interval=3600, listen=listen
        )
        live.start(AnswerIndex.from_batches([_items()], writer, POLICY))
        workers.append(live)
    return workers


def _seconds_until_denied(writer: LedgerStore, workers: list[LiveAnswers], limit: float) -> float:
    """Seconds from the deny's append until every worker answers it (``inf``: not by ``limit``)."""
    assert all(set(w.verdicts(IDS, "answer").codes) == {"eligible"} for w in workers)
    time.sleep(0.3)  # the threads are waiting by now, not catching up with the start
    started = time.monotonic()
    writer.append([ConsentDecision("ok", "answer", Decision.DENY, datetime.now(UTC))])
    pending = set(range(len(workers)))
    while pending and time.monotonic() - started < limit:
        for i in list(pending):
            if workers[i].verdicts(IDS, "answer").codes == ["consent_denied"] * 3:
                pending.discard(i)
        time.sleep(0.002)
    return time.monotonic() - started if not pending else float("inf")


def _granted(writer: LedgerStore) -> None:
    writer.append(
        [
            AccountChange("ok", T0, {"birth_date": date(1990, 1, 1)}, created=True),
            ConsentDecision("ok", "answer", Decision.GRANT, T0 + timedelta(minutes=1)),
        ]
    )


@pytest.mark.postgres
def test_a_deny_reaches_every_worker_by_notification(postgres_url: str, tmp_path: Path) -> None:
    with open_ledger(postgres_url, create=True) as writer:
        _granted(writer)
        workers = _workers(postgres_url, writer, tmp_path, listen=True)
        try:
            assert all(w.listening for w in workers)
            took = _seconds_until_denied(writer, workers, limit=3.0)
        finally:
            for w in workers:
                w.close()
    assert took < 1.0, took


@pytest.mark.postgres
def test_without_listening_the_slow_poll_misses_the_second(
    postgres_url: str, tmp_path: Path
) -> None:
    """The control: the same deny, the same 10 s poll, no LISTEN: not seen within a second, so
    the test above measures the notification."""
    with open_ledger(postgres_url, create=True) as writer:
        _granted(writer)
        workers = _workers(postgres_url, writer, tmp_path, listen=False)
        try:
            assert not any(w.listening for w in workers)
            took = _seconds_until_denied(writer, workers, limit=1.5)
        finally:
            for w in workers:
                w.close()
    assert took == float("inf"), took


def test_sqlite_polls(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url, create=True) as writer:
        _granted(writer)
        live = LiveAnswers(url, ContentStore(tmp_path / "content"), POLICY, import_interval=3600)
        live.start(AnswerIndex.from_batches([_items()], writer, POLICY))
        try:
            assert not live.listening
            took = _seconds_until_denied(writer, [live], limit=3.0)
        finally:
            live.close()
    assert took < 1.0, took


@pytest.mark.postgres
def test_a_lost_listening_connection_falls_back_to_polling(
    postgres_url: str, tmp_path: Path
) -> None:
    """The server ends the listening connection: the worker polls (every 100 ms) until it
    listens again, and the deny is still seen within a second."""
    with open_ledger(postgres_url, create=True) as writer:
        _granted(writer)
        live = LiveAnswers(
            postgres_url, ContentStore(tmp_path / "content"), POLICY, import_interval=1.0
        )
        live.start(AnswerIndex.from_batches([_items()], writer, POLICY))
        try:
            assert live._listener is not None
            channel = live._listener.channel
            ended = writer.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query = %s AND pid <> pg_backend_pid()",
                (f'LISTEN "{channel}"',),
            )
            assert [tuple(r) for r in ended] == [(True,)]
            deadline = time.monotonic() + 3
            while live.listening and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not live.listening  # it noticed
            took = _seconds_until_denied(writer, [live], limit=3.0)
            deadline = time.monotonic() + 5
            while not live.listening and time.monotonic() < deadline:
                time.sleep(0.05)
            assert live.listening  # and listens again
        finally:
            live.close()
    assert took < 1.0, took


def test_start_up_reports_its_progress(
    tmp_path: Path, demo_platform: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Building from a real content store, the worker says how far it is, as a share of the
    store's items (from its commit marker), up to all of them."""
    ws = Workspace.init(tmp_path / "ws")
    import_canonical(ws, demo_platform)
    store = ContentStore(ws.content_dir)
    total = store.counts().items
    live = LiveAnswers(ws.db_url, store, ws.policy(), import_interval=3600)
    with caplog.at_level("INFO", logger="consentry.answer"):
        live.start()
    live.close()
    lines = [r.getMessage() for r in caplog.records if "items read" in r.getMessage()]
    assert len(lines) >= 5, lines
    assert lines[-1].startswith(f"answer index: {total} of {total} items read (100%"), lines
    assert len(live.index) > 0


class _CountingLive(LiveAnswers):
    """A worker that counts its catch-ups with the head."""

    catch_ups = 0

    def refresh(self) -> int:
        self.catch_ups += 1
        return super().refresh()


@pytest.mark.postgres
def test_a_stream_of_appends_is_folded_in_few_catch_ups(postgres_url: str, tmp_path: Path) -> None:
    """300 appends in about 1.5 s, each notified: the worker catches up a few times a tenth of a
    second (the queued notifications drained, ``REFRESH_GAP`` between catch-ups), not once per
    append, and still answers the last one within a second."""
    with open_ledger(postgres_url, create=True) as writer:
        _granted(writer)
        live = _CountingLive(
            postgres_url, ContentStore(tmp_path / "content"), POLICY, interval=SLOW_POLL,
            import_interval=3600,
        )  # fmt: skip
        live.start(AnswerIndex.from_batches([_items()], writer, POLICY))
        try:
            assert live.listening
            time.sleep(0.3)
            before = live.catch_ups
            started = time.monotonic()
            for i in range(300):
                decision = Decision.DENY if i % 2 == 0 else Decision.GRANT
                writer.append([ConsentDecision("ok", "answer", decision, datetime.now(UTC))])
                time.sleep(0.005)
            writer.append([ConsentDecision("ok", "answer", Decision.DENY, datetime.now(UTC))])
            last = time.monotonic()
            while live.verdicts(IDS, "answer").codes != ["consent_denied"] * 3:
                assert time.monotonic() - last < 1.0, "the last deny was not seen within 1 s"
                time.sleep(0.002)
            catch_ups = live.catch_ups - before
            seconds = time.monotonic() - started
        finally:
            live.close()
    # At most one catch-up per REFRESH_GAP (and one for the end), far below one per append.
    assert catch_ups <= seconds / REFRESH_GAP + 2, (catch_ups, seconds)
    assert catch_ups < 100, catch_ups
