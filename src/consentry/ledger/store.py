"""The ledger store interface and everything its backends share.

A backend (SQLite, PostgreSQL) supplies a few primitives: an exclusive append transaction, plain
and Arrow queries, and its SQL placeholder style. Everything else (hashing, as-of resolution,
state folding, verification) lives here once, so both backends answer the same question the
same way, and one test suite runs against both.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from consentry.errors import LedgerIntegrityError, UsageError
from consentry.ledger.bulk import chain_table, check_payloads
from consentry.ledger.chaincheck import BATCH_SQL, check_batch
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
from consentry.ledger.state import (
    CONSENT_ROWS_SCHEMA,
    fold_account_states,
    fold_consent_state,
    reduce_consent_rows,
)
from consentry.model import SHARE, AccountChange, AccountStatus, ConsentDecision

#: Decisions dated further in the future than this are refused: clocks drift, intentions don't.
MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
VERIFY_BATCH: Final = 50_000
DECISIONS_SCHEMA: Final = pa.schema(
    [
        ("account_id", pa.string()),
        ("purpose", pa.string()),
        ("scope", pa.string()),
        ("decision", pa.string()),
        ("at_us", pa.int64()),
        ("source", pa.string()),
        ("recipient", pa.string()),
    ]
)
#: Entries read past the latest consent checkpoint before a new one is taken.
CHECKPOINT_EVERY: Final = 100_000
CHECKPOINTS_KEPT: Final = 3
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


#: The head entry: (seq, hash) of the last one.
HEAD: Final = "SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1"


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
    def _write(self, sql: str, params: Sequence[object] = ()) -> None:
        """Run one statement that returns nothing, committed."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """An exclusive write transaction: statements run through ``execute`` inside it commit
        together or not at all, and writers in other processes wait for it."""

    @abstractmethod
    def insert_arrow(self, table: str, data: pa.Table) -> None:
        """Insert every row of ``data`` into ``table`` (columns by name), in bulk."""

    # ---- companion tables ----------------------------------------------------------------------
    # Other parts of Consentry (compliance, the service) keep their tables in the same database as
    # the ledger, so that one backup and one ``CONSENTRY_DB`` hold the whole workspace. They reach
    # it through these calls, with ``?`` placeholders whatever the backend; their schemas are
    # migrations beside the ledger's (``ledger/migrations``).

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._query(self._sql(sql), params)

    def query_arrow(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        return self._query_arrow(self._sql(sql), params)

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self._write(self._sql(sql), params)

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
            batch.append(validated_payload(item))
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

    def append_tables(
        self,
        batches: Iterable[pa.Table],
        to_payloads: Callable[[pa.Table, int], pa.Table],
        *,
        progress: ProgressFn | None = None,
    ) -> Position:
        """``append`` for entries given as Arrow columns: each batch, turned into payload columns
        by ``to_payloads(batch, recorded_us)`` (``bulk.decision_payloads`` or
        ``bulk.account_payloads``), is checked as ``append`` checks and appended in one
        transaction; returns the new head."""
        head: Position | None = None
        for batch in batches:
            if batch.num_rows == 0:
                continue
            now_us = to_us(datetime.now(UTC))
            payloads = to_payloads(batch, now_us)
            check_payloads(payloads, now_us, MAX_CLOCK_SKEW)
            head = self._append_table(payloads)
            if progress:
                progress(payloads.num_rows)
        return head if head is not None else self.head()

    def _append_table(self, payloads: pa.Table) -> Position:
        head: list[Position] = []

        def build(next_seq: int, prev_hash: bytes) -> list[Row]:
            rows, new_head = chain_table(payloads, next_seq, prev_hash)
            head.append(Position(next_seq + len(rows) - 1, new_head.hex()))
            return rows

        self._append_locked(build)
        return head[-1]

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
        rows = self._query(HEAD)
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
        use_checkpoints: bool = True,
    ) -> pa.Table:
        """Effective decision per (account, purpose, scope) as of a position.

        Columns: ``account_id``, ``purpose``, ``scope``, ``decision`` (int8: 1 grant, 0 deny),
        ``seq`` (the deciding entry) and ``at``. Scopes never decided are absent (the policy
        default applies). ``share`` decisions naming a recipient count only when that recipient
        is asked about.

        The state of every account starts from the latest checkpoint at or before the position
        (see ``consent_checkpoints``) and folds only the entries appended since; a query bounded
        by time, or about one account, reads the entries themselves.
        """
        resolved = as_of if isinstance(as_of, Resolved) else self.resolve(as_of)
        if purposes is not None and not purposes:
            return fold_consent_state(None, recipient)
        if use_checkpoints and account_id is None and resolved.time_bound_us is None:
            rows = self._rows_from_checkpoint(resolved.position, purposes)
        else:
            rows = self._consent_rows(
                0, resolved.position.seq, purposes, resolved.at_bound, account_id=account_id
            )
        return fold_consent_state(rows, recipient)

    def _consent_rows(
        self,
        after: int,
        upto: int,
        purposes: Sequence[str] | None,
        at_bound: int = 2**62,
        *,
        account_id: str | None = None,
    ) -> pa.Table:
        sql = (
            "SELECT account_id, purpose, coalesce(scope, '') AS scope, decision,"
            " coalesce(recipient, '') AS recipient, seq, at_us FROM ledger_entries"
            " WHERE kind = 'consent' AND seq > ? AND seq <= ? AND at_us <= ?"
        )
        params: list[object] = [after, upto, at_bound]
        if purposes is not None:
            sql += f" AND purpose IN ({', '.join('?' for _ in purposes)})"
            params.extend(purposes)
        if account_id is not None:
            sql += " AND account_id = ?"
            params.append(account_id)
        table = self._query_arrow(self._sql(sql), params)
        return table if table.num_rows else CONSENT_ROWS_SCHEMA.empty_table()

    # ---- checkpoints -----------------------------------------------------------------------------

    def _rows_from_checkpoint(self, position: Position, purposes: Sequence[str] | None) -> pa.Table:
        base_seq, base = self._load_checkpoint(position.seq)
        if position.seq - base_seq >= CHECKPOINT_EVERY:
            # Far past the last checkpoint: read everything since it, and keep the reduction.
            fresh = self._consent_rows(base_seq, position.seq, None)
            rows = reduce_consent_rows(_concat(base, fresh))
            self._save_checkpoint(position, rows)
        else:
            rows = _concat(base, self._consent_rows(base_seq, position.seq, purposes))
        if purposes is not None:
            rows = rows.filter(pc.is_in(rows["purpose"], value_set=pa.array(list(purposes))))
        return rows

    def _load_checkpoint(self, seq: int) -> tuple[int, pa.Table | None]:
        found = self._query(
            self._sql(
                "SELECT seq, hash, data FROM consent_checkpoints WHERE seq <= ?"
                " ORDER BY seq DESC LIMIT 1"
            ),
            (seq,),
        )
        if not found:
            return 0, None
        cp_seq, cp_hash, data = int(found[0][0]), bytes(found[0][1]), bytes(found[0][2])
        if self.position_at(cp_seq).hash != cp_hash.hex():
            return 0, None  # history changed under it: worthless (and `verify` says why)
        return cp_seq, pa.ipc.open_stream(pa.py_buffer(data)).read_all()

    def _save_checkpoint(self, position: Position, rows: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with pa.ipc.new_stream(sink, rows.schema, options=options) as writer:
            writer.write_table(rows)
        self._write(
            self._sql(
                "INSERT INTO consent_checkpoints (seq, hash, rows, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (seq) DO NOTHING"
            ),
            (
                position.seq,
                bytes.fromhex(position.hash),
                rows.num_rows,
                sink.getvalue().to_pybytes(),
            ),
        )
        self._write(
            "DELETE FROM consent_checkpoints WHERE seq NOT IN"
            f" (SELECT seq FROM consent_checkpoints ORDER BY seq DESC LIMIT {CHECKPOINTS_KEPT})"
        )

    def checkpoint(self) -> Position:
        """Take a consent-state checkpoint at the head now (imports call it after bulk loads)."""
        head = self.head()
        base_seq, base = self._load_checkpoint(head.seq)
        if base_seq != head.seq:
            rows = reduce_consent_rows(_concat(base, self._consent_rows(base_seq, head.seq, None)))
            self._save_checkpoint(head, rows)
        return head

    def verify_checkpoints(self, entries: pa.Table | None = None) -> int:
        """Recompute every checkpoint from the entries; raise if one differs (a poisoned cache
        would otherwise lend consent that the ledger does not hold). Returns how many.

        ``entries``: every consent row of the ledger, already read and proven intact (by
        ``verify``); read from the database when not given."""
        stored = self._query("SELECT seq, hash, data FROM consent_checkpoints ORDER BY seq")
        for seq, digest, data in stored:
            kept = pa.ipc.open_stream(pa.py_buffer(bytes(data))).read_all()
            if entries is None:
                upto = self._consent_rows(0, int(seq), None)
            else:
                upto = entries.filter(pc.less_equal(entries["seq"], int(seq)))
            truth = reduce_consent_rows(upto)
            if self.position_at(int(seq)).hash != bytes(digest).hex() or not _same_rows(
                kept, truth
            ):
                raise LedgerIntegrityError(
                    f"consent checkpoint at entry {seq} does not match the ledger's entries",
                    int(seq),
                )
        return len(stored)

    def decisions(self) -> pa.Table:
        """Every consent decision as recorded, in ledger order: ``account_id``, ``purpose``,
        ``scope``, ``decision``, ``at_us``, ``source``, ``recipient`` ('' where a decision has
        no scope or recipient), for importers that must not record one twice."""
        table = self._query_arrow(
            "SELECT account_id, purpose, coalesce(scope, '') AS scope, decision, at_us,"
            " coalesce(source, '') AS source, coalesce(recipient, '') AS recipient"
            " FROM ledger_entries WHERE kind = 'consent' ORDER BY seq"
        )
        return table if table.num_rows else DECISIONS_SCHEMA.empty_table()

    def account_states(
        self, as_of: AsOf | Resolved | None = None, *, account_id: str | None = None
    ) -> pa.Table:
        """Each account's state as of a position: ``account_id``, ``country``, ``birth_date``,
        ``protected``, ``status``, ``created_seq``."""
        resolved = as_of if isinstance(as_of, Resolved) else self.resolve(as_of)
        return fold_account_states(
            self.account_rows(0, resolved.position.seq, resolved.at_bound, account_id=account_id)
        )

    def account_rows(
        self, after: int, upto: int, at_bound: int = 2**62, *, account_id: str | None = None
    ) -> pa.Table:
        """The account entries (every kind but consent) of ``seq`` in (``after``, ``upto``], as
        ``fold_account_states`` takes them: a caller may read the ledger window by window and
        fold each account's rows apart (the snapshot build's partitioned state)."""
        sql = (
            "SELECT account_id, kind, attr_mask, coalesce(country, '') AS country,"
            " coalesce(birth_date, '') AS birth_date, coalesce(protected, -1) AS protected,"
            " coalesce(status, '') AS status, seq, at_us FROM ledger_entries"
            " WHERE kind <> 'consent' AND seq > ? AND seq <= ? AND at_us <= ?"
        )
        params: list[object] = [after, upto, at_bound]
        if account_id is not None:
            sql += " AND account_id = ?"
            params.append(account_id)
        return self._query_arrow(self._sql(sql), params)

    def consent_rows(
        self, after: int, upto: int, purposes: Sequence[str] | None, at_bound: int = 2**62
    ) -> pa.Table:
        """The consent entries of ``seq`` in (``after``, ``upto``], as ``fold_consent_state``
        takes them (see ``account_rows``)."""
        return self._consent_rows(after, upto, purposes, at_bound)

    def erased_accounts(self) -> pa.Array:
        """Ids of accounts erased on request (``consentry erase``): nothing of theirs may be
        imported again."""
        table = self._query_arrow(
            self._sql(
                "SELECT DISTINCT account_id FROM ledger_entries WHERE kind <> 'consent'"
                " AND status = ?"
            ),
            (AccountStatus.ERASED.value,),
        )
        column = table.column(0) if table.num_rows else pa.chunked_array([], pa.string())
        return column.combine_chunks().cast(pa.string())

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM ledger_entries")[0][0])

    # ---- verification --------------------------------------------------------------------------

    def verify(
        self, against: Position | None = None, *, progress: ProgressFn | None = None
    ) -> VerifyReport:
        """Walk the whole chain; raise ``LedgerIntegrityError`` naming the first bad entry.

        Given ``against`` (a head published earlier), also prove that history up to it was not
        rewritten: the entry at that sequence must still carry that hash. Consent checkpoints
        (a cache) are recomputed from the entries and must match.

        Each batch is first checked whole (``chaincheck.check_batch``, vectorised: ~2x faster);
        a batch it does not accept is walked entry by entry (``_walk``), which names the first
        bad entry and what is wrong with it.
        """
        expected_seq = 1
        prev = GENESIS_HASH
        matched_against = against is None or against.seq == 0
        if against is not None and against.seq == 0 and against.hash != GENESIS_HASH.hex():
            raise LedgerIntegrityError("published head 0 must carry the genesis hash", 0)
        batch_sql = self._sql(BATCH_SQL)
        rows_sql = self._sql(
            f"SELECT {', '.join(ROW_FIELDS)} FROM ledger_entries WHERE seq > ? ORDER BY seq LIMIT ?"
        )
        # The first batch starts below 1: an entry slipped in at seq 0 or below (which every
        # "seq <= position" query would count) must be seen, and fail, too.
        after = _BEFORE_ALL
        # Checkpoints are recomputed from the consent entries the walk reads anyway (once each
        # batch is proven intact), rather than by reading the ledger a second time.
        checkpoints = bool(self._query("SELECT COUNT(*) FROM consent_checkpoints")[0][0])
        consent: list[pa.Table] | None = [] if checkpoints else None
        while True:
            table = self._query_arrow(batch_sql, (after, VERIFY_BATCH))
            if table.num_rows == 0:
                break
            checked = check_batch(table, expected_seq, prev, against)
            if checked is not None:
                expected_seq, prev, matched = checked
                done = table.num_rows
                if consent is not None:
                    consent.append(_consent_rows_of(table))
            else:
                consent = None  # an odd batch: the checkpoints get their own reading below
                rows = self._query(rows_sql, (after, VERIFY_BATCH))
                expected_seq, prev, matched = self._walk(rows, expected_seq, prev, against)
                done = len(rows)
            matched_against = matched_against or matched
            after = expected_seq - 1
            if progress:
                progress(done)
        head = Position(expected_seq - 1, prev.hex())
        if not matched_against:
            assert against is not None
            raise LedgerIntegrityError(
                f"the ledger ends at entry {head.seq}, before the published head {against.seq}: "
                "entries were removed",
                head.seq + 1,
            )
        if checkpoints:
            self.verify_checkpoints(None if consent is None else _concat_all(consent))
        return VerifyReport(head, expected_seq - 1, against)

    def _walk(
        self,
        rows: Sequence[tuple[Any, ...]],
        expected_seq: int,
        prev: bytes,
        against: Position | None,
    ) -> tuple[int, bytes, bool]:
        """Check ``rows`` (``ROW_FIELDS`` order) one by one after ``prev`` at ``expected_seq``;
        raise on the first bad one. Returns the next expected seq, the last hash, and whether
        ``against`` was matched."""
        n_payload = len(PAYLOAD_FIELDS)
        matched_against = False
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
            if payload_digest(salt, _normalise(payload)) != digest and not self._intact_alone(
                seq, salt, digest
            ):
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
        return expected_seq, prev, matched_against

    def _intact_alone(self, seq: int, salt: bytes, digest: bytes) -> bool:
        """Whether entry ``seq``, read on its own, matches its digest. A driver may type a
        column by all the rows of a read (SQLite's ADBC reads a whole column as bytes once one
        value in it is a BLOB): before calling an entry altered, read it without its
        neighbours, so that the entry named is the one that was."""
        cols = ", ".join(PAYLOAD_FIELDS)
        rows = self._query(self._sql(f"SELECT {cols} FROM ledger_entries WHERE seq = ?"), (seq,))
        return bool(rows) and payload_digest(salt, _normalise(tuple(rows[0]))) == digest


#: Below every sequence number a ledger could hold (SQLite and PostgreSQL integers are 64-bit).
_BEFORE_ALL: Final = -(2**63)


def _normalise(payload: tuple[Any, ...]) -> tuple[str | int | None, ...]:
    return tuple(_normalise_value(v) for v in payload)


def _normalise_value(v: Any) -> str | int | None:
    # Backends may hand integers back as other numeric types; the encoding is of str(value).
    # Anything else (bytes from a SQLite BLOB, a fractional number in an integer column) cannot
    # be what was hashed: its repr cannot match, so the entry is reported as altered (where
    # int() would have crashed on bytes, or silently truncated 1.5 to the hashed 1).
    if v is None or isinstance(v, str | int):
        return v
    if isinstance(v, float | Decimal) and math.isfinite(v) and v == int(v):
        return int(v)
    return repr(v)


def _concat(base: pa.Table | None, fresh: pa.Table) -> pa.Table:
    if base is None or base.num_rows == 0:
        return fresh
    return pa.concat_tables([base, fresh.cast(base.schema)])


def _same_rows(a: pa.Table, b: pa.Table) -> bool:
    if a.num_rows != b.num_rows:
        return False
    keys = [(name, "ascending") for name in ("seq",)]
    return bool(a.sort_by(keys).equals(b.cast(a.schema).sort_by(keys)))


def _consent_rows_of(batch: pa.Table) -> pa.Table:
    """The consent entries of a verified ``BATCH_SQL`` batch, as ``CONSENT_ROWS_SCHEMA`` rows."""
    chosen = batch.filter(pc.equal(batch["kind"], "consent"))
    return pa.table(
        [
            chosen[name].cast(field.type)
            for name, field in zip(CONSENT_ROWS_SCHEMA.names, CONSENT_ROWS_SCHEMA, strict=True)
        ],
        schema=CONSENT_ROWS_SCHEMA,
    )


def _concat_all(parts: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(parts) if parts else CONSENT_ROWS_SCHEMA.empty_table()


def validated_payload(item: ConsentDecision | AccountChange) -> Payload:
    """The payload ``LedgerStore.append`` records for ``item``, recorded now, once checked."""
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
