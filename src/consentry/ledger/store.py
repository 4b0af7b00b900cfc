"""The ledger store interface and everything its backends share.

A backend (SQLite, PostgreSQL) supplies a few primitives: an exclusive append transaction, plain
and Arrow queries, and its SQL placeholder style. Everything else (hashing, as-of resolution,
state folding, verification) lives here once, so both backends answer the same question the
same way, and one test suite runs against both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pyarrow as pa

from consentry.errors import LedgerIntegrityError, UsageError
from consentry.ledger.entries import (
    EMPTY_POSITION,
    GENESIS_HASH,
    PAYLOAD_FIELDS,
    ROW_FIELDS,
    LedgerEntry,
    Payload,
    Position,
    Row,
    chain_hash,
    chain_rows,
    from_us,
    payload_digest,
    payload_of,
    to_us,
)
from consentry.ledger.state import fold_account_states, fold_consent_state
from consentry.model import SHARE, AccountChange, ConsentDecision

#: Decisions dated further in the future than this are refused: clocks drift, intentions don't.
MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
VERIFY_BATCH: Final = 50_000
APPEND_BATCH: Final = 50_000

ProgressFn = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class AsOf:
    """Which moment a question is asked about: the head, a sequence number, or a time.

    A time means "what the ledger knew then": entries recorded up to that time, and of those only
    decisions effective (``at``) up to it.
    """

    seq: int | None = None
    time: datetime | None = None

    @classmethod
    def parse(cls, text: str | None) -> AsOf:
        if text is None or text == "head":
            return cls()
        if text.isdigit():
            return cls(seq=int(text))
        try:
            t = datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(
                f"--as-of takes a sequence number or an RFC 3339 time, got {text!r}"
            ) from None
        if t.tzinfo is None:
            raise UsageError(
                f"--as-of time needs a UTC offset, e.g. 2024-07-27T08:00:00Z: {text!r}"
            )
        return cls(time=t)


@dataclass(frozen=True, slots=True)
class Resolved:
    position: Position
    time_bound_us: int | None

    @property
    def at_bound(self) -> int:
        return self.time_bound_us if self.time_bound_us is not None else 2**62


@dataclass(frozen=True, slots=True)
class VerifyReport:
    head: Position
    entries: int
    against: Position | None


class LedgerStore(ABC):
    """Append-only, hash-chained log of consent decisions and account-state changes."""

    url: str
    #: The backend's SQL placeholder; shared SQL is written with ``?``.
    placeholder: str = "?"

    # ---- primitives a backend provides -------------------------------------------------------

    @abstractmethod
    def _append_locked(self, build: Callable[[int, bytes], list[Row]]) -> None:
        """In one exclusive transaction: read the head, insert ``build(next_seq, prev_hash)``,
        commit. Concurrent appenders must be serialised so that the chain never forks."""

    @abstractmethod
    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _query_arrow(self, sql: str, params: Sequence[object] = ()) -> pa.Table: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    # ---- writing ---------------------------------------------------------------------------

    def append(
        self,
        items: Iterable[ConsentDecision | AccountChange],
        *,
        progress: ProgressFn | None = None,
        batch_size: int = APPEND_BATCH,
    ) -> Position:
        """Append entries in order, ``batch_size`` per transaction; returns the new head.

        Each transaction is atomic: a crash leaves every earlier batch committed and this one
        absent, and the chain verifying either way.
        """
        batch: list[Payload] = []
        head: Position | None = None  # read only when nothing was appended: saves a round trip
        for item in items:
            batch.append(self._validated_payload(item))
            if len(batch) >= batch_size:
                head = self._append_payloads(batch)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            head = self._append_payloads(batch)
            if progress:
                progress(len(batch))
        return head if head is not None else self.head()

    def _validated_payload(self, item: ConsentDecision | AccountChange) -> Payload:
        now = datetime.now(UTC)
        if item.at.tzinfo is None:
            raise UsageError(f"time of {item.account_id}'s entry has no UTC offset")
        if item.at > now + MAX_CLOCK_SKEW:
            raise UsageError(
                f"time {item.at.isoformat()} of {item.account_id}'s entry is in the future"
            )
        if not item.account_id:
            raise UsageError("account id is empty")
        if isinstance(item, ConsentDecision) and item.recipient and item.purpose != SHARE:
            raise UsageError("only a share decision can name a recipient")
        return payload_of(item, to_us(now))

    def _append_payloads(self, payloads: Sequence[Payload]) -> Position:
        head: list[Position] = []

        def build(next_seq: int, prev_hash: bytes) -> list[Row]:
            rows, new_head = chain_rows(payloads, next_seq, prev_hash)
            head.append(Position(next_seq + len(rows) - 1, new_head.hex()))
            return rows

        self._append_locked(build)
        return head[-1]

    # ---- reading -----------------------------------------------------------------------------

    def head(self) -> Position:
        rows = self._query("SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1")
        if not rows:
            return EMPTY_POSITION
        return Position(int(rows[0][0]), bytes(rows[0][1]).hex())

    def position_at(self, seq: int) -> Position:
        if seq == 0:
            return EMPTY_POSITION
        rows = self._query(self._sql("SELECT hash FROM ledger_entries WHERE seq = ?"), (seq,))
        if not rows:
            raise UsageError(f"the ledger has no entry {seq} (head is {self.head().seq})")
        return Position(seq, bytes(rows[0][0]).hex())

    def resolve(self, as_of: AsOf | None = None) -> Resolved:
        as_of = as_of or AsOf()
        if as_of.time is not None:
            bound = to_us(as_of.time)
            rows = self._query(
                self._sql("SELECT MAX(seq) FROM ledger_entries WHERE recorded_us <= ?"), (bound,)
            )
            seq = int(rows[0][0] or 0)
            return Resolved(self.position_at(seq), bound)
        if as_of.seq is not None:
            if as_of.seq < 0:
                raise UsageError("a sequence number is never negative")
            return Resolved(self.position_at(as_of.seq), None)
        return Resolved(self.head(), None)

    def position_time(self, resolved: Resolved) -> datetime:
        """When a position was the head: the as-of time asked for, or its entry's recording time
        (the epoch for the empty ledger). Snapshots compute ages at this time, so that a build
        depends on its position and not on the day it runs."""
        if resolved.time_bound_us is not None:
            return from_us(resolved.time_bound_us)
        rows = self._query(
            self._sql("SELECT recorded_us FROM ledger_entries WHERE seq = ?"),
            (resolved.position.seq,),
        )
        return from_us(int(rows[0][0]) if rows else 0)

    def entry(self, seq: int) -> LedgerEntry:
        cols = ", ".join(ROW_FIELDS)
        rows = self._query(self._sql(f"SELECT {cols} FROM ledger_entries WHERE seq = ?"), (seq,))
        if not rows:
            raise UsageError(f"the ledger has no entry {seq}")
        return LedgerEntry.from_row(dict(zip(ROW_FIELDS, rows[0], strict=True)))

    def account_history(self, account_id: str) -> list[LedgerEntry]:
        cols = ", ".join(ROW_FIELDS)
        rows = self._query(
            self._sql(f"SELECT {cols} FROM ledger_entries WHERE account_id = ? ORDER BY seq"),
            (account_id,),
        )
        return [LedgerEntry.from_row(dict(zip(ROW_FIELDS, r, strict=True))) for r in rows]

    def consent_state(
        self,
        as_of: AsOf | Resolved | None = None,
        *,
        purposes: Sequence[str] | None = None,
        recipient: str | None = None,
        account_id: str | None = None,
    ) -> pa.Table:
        """Effective decision per (account, purpose, scope) as of a position.

        Columns: ``account_id``, ``purpose``, ``scope``, ``decision`` (int8: 1 grant, 0 deny),
        ``seq`` (the deciding entry) and ``at``. Scopes never decided are absent (the policy
        default applies). ``share`` decisions naming a recipient count only when that recipient
        is asked about.
        """
        resolved = as_of if isinstance(as_of, Resolved) else self.resolve(as_of)
        sql = (
            "SELECT account_id, purpose, coalesce(scope, '') AS scope, decision,"
            " coalesce(recipient, '') AS recipient, seq, at_us FROM ledger_entries"
            " WHERE kind = 'consent' AND seq <= ? AND at_us <= ?"
        )
        params: list[object] = [resolved.position.seq, resolved.at_bound]
        if purposes is not None:
            if not purposes:
                return fold_consent_state(None, recipient)
            sql += f" AND purpose IN ({', '.join('?' for _ in purposes)})"
            params.extend(purposes)
        if account_id is not None:
            sql += " AND account_id = ?"
            params.append(account_id)
        return fold_consent_state(self._query_arrow(self._sql(sql), params), recipient)

    def account_states(
        self, as_of: AsOf | Resolved | None = None, *, account_id: str | None = None
    ) -> pa.Table:
        """Each account's state as of a position: ``account_id``, ``country``, ``birth_date``,
        ``protected``, ``status``, ``created_seq``."""
        resolved = as_of if isinstance(as_of, Resolved) else self.resolve(as_of)
        sql = (
            "SELECT account_id, kind, attr_mask, coalesce(country, '') AS country,"
            " coalesce(birth_date, '') AS birth_date, coalesce(protected, -1) AS protected,"
            " coalesce(status, '') AS status, seq, at_us FROM ledger_entries"
            " WHERE kind <> 'consent' AND seq <= ? AND at_us <= ?"
        )
        params: list[object] = [resolved.position.seq, resolved.at_bound]
        if account_id is not None:
            sql += " AND account_id = ?"
            params.append(account_id)
        return fold_account_states(self._query_arrow(self._sql(sql), params))

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM ledger_entries")[0][0])

    # ---- verification --------------------------------------------------------------------------

    def iter_rows(self, batch: int = VERIFY_BATCH) -> Iterator[list[tuple[Any, ...]]]:
        """All rows in ``ROW_FIELDS`` order, by sequence, in batches (keyset pagination)."""
        cols = ", ".join(ROW_FIELDS)
        last = 0
        sql = self._sql(f"SELECT {cols} FROM ledger_entries WHERE seq > ? ORDER BY seq LIMIT ?")
        while True:
            rows = self._query(sql, (last, batch))
            if not rows:
                return
            yield rows
            last = int(rows[-1][0])

    def verify(
        self, against: Position | None = None, *, progress: ProgressFn | None = None
    ) -> VerifyReport:
        """Walk the whole chain; raise ``LedgerIntegrityError`` naming the first bad entry.

        Given ``against`` (a head published earlier), also prove that history up to it was not
        rewritten: the entry at that sequence must still carry that hash.
        """
        n_payload = len(PAYLOAD_FIELDS)
        expected_seq = 1
        prev = GENESIS_HASH
        matched_against = against is None or against.seq == 0
        if against is not None and against.seq == 0 and against.hash != GENESIS_HASH.hex():
            raise LedgerIntegrityError("published head 0 must carry the genesis hash", 0)
        for rows in self.iter_rows():
            for row in rows:
                seq = int(row[0])
                if seq != expected_seq:
                    what = "missing" if seq > expected_seq else "out of order"
                    raise LedgerIntegrityError(
                        f"entry {expected_seq} is {what} (found {seq} after {expected_seq - 1})",
                        expected_seq,
                    )
                payload = tuple(row[1 : 1 + n_payload])
                salt, digest, prev_hash, h = (bytes(v) for v in row[1 + n_payload :])
                if prev_hash != prev:
                    raise LedgerIntegrityError(
                        f"entry {seq} does not link to entry {seq - 1} (an entry was removed, "
                        "inserted or reordered)",
                        seq,
                    )
                if payload_digest(salt, _normalise(payload)) != digest:
                    raise LedgerIntegrityError(
                        f"entry {seq} was altered: its content does not match its digest", seq
                    )
                if chain_hash(prev, seq, digest) != h:
                    raise LedgerIntegrityError(f"entry {seq} has a forged hash", seq)
                if against is not None and seq == against.seq:
                    if h.hex() != against.hash:
                        raise LedgerIntegrityError(
                            f"history was rewritten: entry {seq} no longer carries the published "
                            f"hash {against.hash}",
                            seq,
                        )
                    matched_against = True
                prev = h
                expected_seq += 1
            if progress:
                progress(len(rows))
        head = Position(expected_seq - 1, prev.hex())
        if not matched_against:
            assert against is not None
            raise LedgerIntegrityError(
                f"the ledger ends at entry {head.seq}, before the published head {against.seq}: "
                "entries were removed",
                head.seq + 1,
            )
        return VerifyReport(head, expected_seq - 1, against)


def _normalise(payload: tuple[Any, ...]) -> tuple[str | int | None, ...]:
    # Backends may hand integers back as other numeric types; the encoding is of str(value).
    return tuple(v if v is None or isinstance(v, str) else int(v) for v in payload)
