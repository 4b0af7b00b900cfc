"""The one seam every importer feeds: ``Ingest``.

A parser (canonical export, X archive, Mastodon, Reddit, …) turns its input into *canonical
records* — plain dicts shaped as in docs/canonical-format.md — and hands them over one by
one; ``Ingest`` validates each, buffers it, and writes accounts' state and consent decisions to
the ledger and content, interactions and account names to the content store. Memory stays
bounded whatever the input size (records are validated and spilled in batches).

Usage (a parser)::

    with Ingest(workspace, source="x-archive") as ingest:
        ingest.account({"id": "1001", "handle": "alice", ...}, file="data/account.js", line=None)
        for n, tweet in enumerate(tweets, 1):
            try:
                record = to_canonical(tweet)        # the parser's own mapping
            except ValueError as exc:               # the parser could not make sense of it
                ingest.reject(Rejection("data/tweets.js", n, None, str(exc), raw, kind="content"))
                continue
            ingest.content(record, file="data/tweets.js", line=n)
        report = ingest.finish()                    # commits; also done by leaving the block

Records (``None`` and a missing key mean the same; unknown keys are ignored):

- ``account``: ``id``, ``handle``, ``created_at`` required; ``display_name``, ``country``
  (ISO 3166 alpha-2), ``birth_date`` (``YYYY-MM-DD``), ``protected`` (bool, default false),
  ``status`` (default ``active``).
- ``content``: ``id``, ``author_id``, ``kind``, ``created_at``, ``visibility`` required;
  ``text`` (default ""), ``lang``, ``in_reply_to``, ``quote_of``, ``repost_of``,
  ``conversation_id``, ``deleted_at``, ``media`` (list of ``{"type", "alt_text"}``),
  ``mentions`` (list of handles, without ``@``, when the source lists them).
- ``interaction``: ``account_id``, ``content_id``, ``kind`` (``like``/``repost``/``bookmark``),
  ``at``.
- ``decision``: ``account_id``, ``purpose`` (one the workspace policy knows), ``decision``,
  ``at`` required; ``source`` (default ``import``), ``scope``, ``notice_version``, ``recipient``
  (``share`` only).

Ids are strings; times are RFC 3339 strings with an offset (``datetime`` objects with a tzinfo
are accepted too, and ``date`` for ``birth_date``). The author of a content item must be known:
given to ``account()`` earlier in the same import, or already in the workspace — so give
accounts before their content. Re-importing the same records changes nothing; a changed item
becomes a new version; ``deleted_at`` (or ``deleted()``) records a deletion with its time.

Line numbers are 1-based and only used in reports (``None`` when the source has no lines);
``raw`` (optional) is the record's text as the source had it, kept in quarantine when the record
is refused (by default the record is shown as JSON); ``Withheld(ids)`` for someone else's row
(another person's message in an archive), of which only the ids are ever kept.

Also: ``deleted(content_id, at, file=, line=)`` when a source says an item was deleted and gives
nothing else; ``reject(Rejection(...))`` for what a parser could not read; ``add_batch`` for
importers that read Arrow tables in bulk (``consentry.platform.jsonl``). ``strict=True``: when
anything is rejected nothing is written (``report.committed`` is False). ``workers=N`` (or
``with import_workers(N):`` around an importer) commits the content store's buckets in N
processes: the same bytes as ``workers=1``. One import at a time
writes to a workspace (a second ``Ingest`` on it waits for the first to finish — never open two
in one thread). Every rejection lands in ``<workspace>/quarantine/<import-id>.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from consentry.content import ACCOUNTS, INTERACTIONS, ITEMS, ContentStore, ImportWriter
from consentry.content.buckets import U64, hash_ids
from consentry.content.schema import TableSpec
from consentry.errors import ImportDataError
from consentry.ledger import LedgerStore
from consentry.ledger.bulk import (
    ACCOUNT_CHANGE_SCHEMA,
    DECISION_SCHEMA,
    account_payloads,
    decision_payloads,
)
from consentry.masks import bool_mask
from consentry.platform.fields import RecordKind, RecordTypeError, check_record, input_schema
from consentry.platform.ledger_sync import AccountSync, DecisionSync
from consentry.platform.quarantine import (
    Original,
    Quarantine,
    Rejection,
    Withheld,
    refused,
)
from consentry.platform.report import UNKNOWN_KIND, ImportReport, ImportWarning
from consentry.platform.validation import (
    DEFAULT_MAX_TEXT_CHARS,
    Mask,
    Rules,
    Validated,
    validate,
    validate_deletions,
    validate_foreign,
)
from consentry.workspace import Workspace

__all__ = [
    "DEFAULT_MAX_TEXT_CHARS",
    "ImportReport",
    "Ingest",
    "RecordKind",
    "Rejection",
    "import_workers",
]

#: Worker processes of the imports started in this context (``import_workers``): the commands
#: choose it once, and every importer's ``Ingest`` takes it, without each importer's signature
#: carrying it.
_WORKERS: ContextVar[int] = ContextVar("consentry_import_workers", default=1)


@contextmanager
def import_workers(workers: int) -> Iterator[None]:
    """Imports started inside use ``workers`` processes for their parallel steps (the content
    store's commit, bucket by bucket); 1 is the single-process path. The bytes written are the
    same whatever the number."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    token = _WORKERS.set(workers)
    try:
        yield
    finally:
        _WORKERS.reset(token)


#: Records buffered by the per-record path before they are validated as one Arrow batch.
RECORD_BATCH: Final = 20_000
#: Ledger entries per append transaction: held as columns, then as Python rows for the driver
#: (~1 KB each), so a small batch keeps memory flat when an import creates many accounts.
LEDGER_BATCH: Final = 5_000
Lines = npt.NDArray[np.int64]  # 1-based line numbers, -1 where the source has none
RawFn = Callable[[int], Original]

#: Columns of a validated row that name it, kept for a row of an erased account (no text).
_ERASED_IDS: Final = ("content_id", "account_id", "author_id", "conversation_id")
_TABLE_OF: Final[dict[RecordKind, TableSpec]] = {
    RecordKind.ACCOUNT: ACCOUNTS,
    RecordKind.CONTENT: ITEMS,
    RecordKind.INTERACTION: INTERACTIONS,
}


class KnownAccounts:
    """Account ids that exist: in the workspace (ledger or store), or accepted in this import.

    Looked up by 64-bit hash in a sorted array, then confirmed by comparing the ids
    themselves: ``pc.is_in`` would rebuild a hash table of every known id for each batch
    (at 10M posts, 100k ids per batch of content: the cost grew with the input)."""

    def __init__(self, *initial: pa.Array) -> None:
        self._chunks: list[pa.Array] = [a.cast(pa.string()) for a in initial if len(a)]
        self._all: pa.Array | None = None
        self._keys: U64 = np.empty(0, dtype=np.uint64)
        self._starts: npt.NDArray[np.int64] = np.zeros(2, dtype=np.int64)
        self._shift = np.uint64(63)

    def add(self, ids: pa.Array) -> None:
        if len(ids):
            self._chunks.append(ids.cast(pa.string()))
            self._all = None

    def contains(self, ids: pa.Array) -> Mask:
        if not self._chunks:
            return np.zeros(len(ids), dtype=np.bool_)
        if self._all is None:
            # One sorted array to look up in; rebuilt only after accounts were added.
            distinct = pc.unique(pa.concat_arrays(self._chunks))
            keys = hash_ids(distinct)
            order = np.argsort(keys, kind="stable")
            self._all, self._keys = distinct.take(pa.array(order)), keys[order]
            self._chunks = [self._all]
            self._index_prefixes()
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        keys = hash_ids(ids)
        pos = self._first_not_below(keys)
        pos[pos >= len(self._keys)] = 0
        same_hash = self._keys[pos] == keys
        same_id = bool_mask(pc.equal(self._all.take(pa.array(pos)), ids))
        found: Mask = same_hash & same_id
        # Another id with the same 64-bit hash sits first: ask the exact way (almost never).
        doubtful = np.nonzero(same_hash & ~same_id & bool_mask(pc.is_valid(ids)))[0]
        if len(doubtful):
            rows = pa.array(doubtful)
            found[doubtful] = bool_mask(pc.is_in(ids.take(rows), value_set=self._all))
        return found

    def _index_prefixes(self) -> None:
        # Where each run of sorted keys sharing their top ``bits`` starts: a lookup jumps to its
        # run and steps through it. About half as many runs as keys (the index is no bigger
        # than the keys), so a run holds one or two keys (hashes are uniform). Sorting each
        # batch of ids for ``np.searchsorted`` instead cost ~10 ms per 60k ids, ~5% of an
        # import at 10M posts.
        bits = max(1, min(24, len(self._keys).bit_length() - 1))
        self._shift = np.uint64(64 - bits)
        top = (self._keys >> self._shift).astype(np.int64)
        self._starts = np.searchsorted(top, np.arange((1 << bits) + 1, dtype=np.int64))

    def _first_not_below(self, keys: U64) -> npt.NDArray[np.int64]:
        """For each key, the first position in the sorted keys holding it or a larger one
        within its prefix run (``np.searchsorted``'s answer wherever the key is present)."""
        top = (keys >> self._shift).astype(np.int64)
        pos = self._starts[top]
        end = self._starts[top + 1]
        active = np.nonzero(pos < end)[0]
        while len(active):
            at = pos[active]
            below = self._keys[at] < keys[active]
            active = active[below]
            pos[active] += 1
            active = active[pos[active] < end[active]]
        return pos


class _RecordBuffer:
    """Type-checked records of one kind, waiting to be validated as one batch."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.originals: list[object] = []
        self.files: list[int] = []
        self.lines: list[int] = []

    def __len__(self) -> int:
        return len(self.rows)


class _Raw(str):
    """A record's text as the source had it (kept instead of the record)."""


def _original_text(kept: object) -> Original:
    if isinstance(kept, Withheld):
        return kept
    return str(kept) if isinstance(kept, _Raw) else _raw_json(kept)


def _raw_json(record: object) -> str | None:
    try:
        return json.dumps(record, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(record)


class Ingest:
    """Validate canonical records and import them into a workspace (see the module docstring).

    ``strict``: when anything is rejected, nothing is written (the quarantine file still is)
    and the report says ``committed=False``. ``max_text_chars``: longest accepted text.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        source: str,
        strict: bool = False,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        workers: int | None = None,
    ) -> None:
        if max_text_chars < 1:
            raise ValueError("max_text_chars must be positive")
        self.workers = _WORKERS.get() if workers is None else workers
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        self.workspace = workspace
        self.source = source
        self.strict = strict
        self._now = datetime.now(UTC)
        self._ledger: LedgerStore = workspace.ledger()
        try:
            purposes = frozenset(workspace.policy().purposes)
            self.rules = Rules(purposes=purposes, max_text_chars=max_text_chars, now=self._now)
            self._store = ContentStore(workspace.content_dir)
            self._writer = ImportWriter(self._store, source=source, workers=self.workers)
        except BaseException:
            self._ledger.close()
            raise
        self.import_id = self._writer.id
        self._quarantine = Quarantine(workspace.quarantine_dir / f"{self.import_id}.jsonl")
        self._report = ImportReport(self.import_id, source, strict=strict)
        self._accounts_sync: AccountSync | None = None
        self._erased: pa.Array | None = None
        self._decisions_sync: DecisionSync | None = None
        self._known: KnownAccounts | None = None
        self._buffers = {kind: _RecordBuffer() for kind in RecordKind}
        self._ledger_writers: dict[str, pq.ParquetWriter] = {}
        self._ledger_changed: list[pa.Array] = []
        self._finished = False

    # ---- context manager -----------------------------------------------------------------------

    def __enter__(self) -> Ingest:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._finished:
            return
        if exc_type is None:
            self.finish()
        else:
            self.abort()

    # ---- the per-record path -------------------------------------------------------------------

    def account(
        self, record: dict[str, Any], *, file: str, line: int | None, raw: Original = None
    ) -> None:
        """An account (canonical account dict)."""
        self._record(RecordKind.ACCOUNT, record, file, line, raw)

    def content(
        self, record: dict[str, Any], *, file: str, line: int | None, raw: Original = None
    ) -> None:
        """A content item (canonical content dict, plus optional ``mentions``)."""
        self._record(RecordKind.CONTENT, record, file, line, raw)

    def interaction(
        self, record: dict[str, Any], *, file: str, line: int | None, raw: Original = None
    ) -> None:
        """A like, repost or bookmark (canonical interaction dict)."""
        self._record(RecordKind.INTERACTION, record, file, line, raw)

    def decision(
        self, record: dict[str, Any], *, file: str, line: int | None, raw: Original = None
    ) -> None:
        """A consent decision (canonical consent dict; ``source`` defaults to ``import``)."""
        self._record(RecordKind.DECISION, record, file, line, raw)

    def reject(self, rejection: Rejection) -> None:
        """A row the parser could not turn into a record (broken JSON, bad UTF-8, …)."""
        self._check_open()
        self._quarantine.write(rejection)
        if rejection.incomplete:
            self._report.incomplete[rejection.file] = rejection.reason
        counts = self._report.counts(rejection.file, rejection.kind or UNKNOWN_KIND)
        counts.read += 1
        counts.rejected += 1

    def warn(self, warning: ImportWarning) -> None:
        """A value the parser changed or dropped, its item kept: counted in the report."""
        self._check_open()
        self._report.warn(warning.file, warning.field, warning.reason, warning.line)

    def deleted(self, content_id: str, at: datetime | str, *, file: str, line: int | None) -> None:
        """The source says item ``content_id`` was deleted at ``at`` (and gives nothing else).

        Recorded as a new version of the item's current row; an id neither stored nor in this
        import is rejected.
        """
        self._check_open()
        kind = RecordKind.CONTENT
        raw = _raw_json({"id": content_id, "deleted_at": at})
        when = at.isoformat() if isinstance(at, datetime) else at
        probe = {"id": content_id, "deleted_at": when}
        try:
            checked = check_record(kind, probe)
        except RecordTypeError as exc:
            self.reject(Rejection(file, line, exc.field, exc.reason, raw, kind.value))
            return
        table = pa.Table.from_pylist([checked], schema=input_schema(kind))
        result = validate_deletions(table, self.rules)
        counts = self._report.counts(file, kind.value)
        counts.read += 1
        if result.failures:
            f = result.failures[0]
            self._quarantine.write(Rejection(file, line, f.field, f.reason, raw, kind.value))
            counts.rejected += 1
            return
        self._flush(RecordKind.CONTENT)  # keep order: rows given before it are staged first
        self._writer.tombstone(
            result.table.column("content_id").combine_chunks(),
            result.table.column("deleted_at").combine_chunks(),
            self._writer.file_index(file),
            pa.array([line], pa.int64()),
        )

    def _record(
        self, kind: RecordKind, record: object, file: str, line: int | None, raw: Original
    ) -> None:
        self._check_open()
        kept: object = record if raw is None else raw if isinstance(raw, Withheld) else _Raw(raw)
        dropped: list[tuple[str, str]] = []
        try:
            row = check_record(kind, record, dropped)
        except RecordTypeError as exc:
            original = _original_text(kept)
            self.reject(refused(file, line, exc.field, exc.reason, original, kind.value))
            return
        for name, reason in dropped:
            self._report.warn(file, name, reason, line)
        buffer = self._buffers[kind]
        buffer.rows.append(row)
        buffer.originals.append(kept)
        buffer.files.append(self._writer.file_index(file))
        buffer.lines.append(-1 if line is None else line)
        if len(buffer) >= RECORD_BATCH:
            self._flush(kind)

    def _flush(self, kind: RecordKind) -> None:
        # Accounts first: content needs its authors known, and the ledger wants them first.
        if kind is not RecordKind.ACCOUNT:
            self._flush(RecordKind.ACCOUNT)
        buffer = self._buffers[kind]
        if not buffer.rows:
            return
        self._buffers[kind] = _RecordBuffer()
        table = pa.Table.from_pylist(buffer.rows, schema=input_schema(kind))
        files = np.asarray(buffer.files, dtype=np.int32)
        lines = np.asarray(buffer.lines, dtype=np.int64)
        originals = buffer.originals
        self._accept(
            kind,
            validate(kind, table, self.rules, self._known_accounts()),
            files,
            lines,
            lambda i: _original_text(originals[i]),
        )

    # ---- the vectorised path -------------------------------------------------------------------

    def add_batch(
        self,
        kind: RecordKind,
        table: pa.Table,
        *,
        file: str,
        lines: Lines,
        raw: RawFn,
        foreign: bool = False,
    ) -> None:
        """Rows of one file read in bulk (an importer's fast path), in ``input_schema(kind)``;
        ``foreign=True`` for tables of another origin (Parquet), conformed first.

        ``lines[i]`` is the 1-based line of row ``i`` (-1: none); ``raw(i)`` its text, asked
        only for rejected rows. Rows buffered by the per-record path go first (order matters:
        within one import, the last row of an id wins).
        """
        self._check_open()
        self._flush(kind)
        check = validate_foreign if foreign else validate
        files = np.full(table.num_rows, self._writer.file_index(file), dtype=np.int32)
        self._accept(
            kind, check(kind, table, self.rules, self._known_accounts()), files, lines, raw
        )

    def end_of_file(self) -> None:
        """The importer finished a file: its content rows still buffered are written out, so
        that they do not sit in memory beside the next file's (peak memory stays one buffer)."""
        self._check_open()
        self.flush()
        self._writer.spill()

    def flush(self) -> None:
        """Validate and stage every buffered record now (e.g. before ``add_batch`` rows of
        another kind that depend on them)."""
        for kind in RecordKind:
            self._flush(kind)

    # ---- validated rows ------------------------------------------------------------------------

    def _known_accounts(self) -> KnownAccounts:
        if self._known is None:
            self._known = KnownAccounts(self._account_sync().known_ids(), self._store.account_ids())
        return self._known

    def _account_sync(self) -> AccountSync:
        if self._accounts_sync is None:
            self._accounts_sync = AccountSync(self._ledger, self._now)
        return self._accounts_sync

    def _accept(
        self,
        kind: RecordKind,
        result: Validated,
        files: npt.NDArray[np.int32],
        lines: Lines,
        raw: RawFn,
    ) -> None:
        names = self._writer.files
        for n_file, n in enumerate(np.bincount(files, minlength=len(names))):
            if n:
                self._report.counts(names[n_file], kind.value).read += int(n)
        for f in result.failures:
            line = int(lines[f.row])
            name = names[int(files[f.row])]
            self._quarantine.write(
                refused(
                    name, line if line >= 0 else None, f.field, f.reason, raw(f.row), kind.value
                )
            )
            self._report.counts(name, kind.value).rejected += 1
        for w in result.warnings:
            for n_file, n in enumerate(np.bincount(files[w.rows], minlength=len(names))):
                if n:
                    first = int(lines[w.rows[files[w.rows] == n_file][0]])
                    self._report.warn(
                        names[n_file], w.field, w.reason, first if first >= 0 else None, int(n)
                    )
        typed, kept = self._without_erased(kind, result.table, result.kept, files, lines)
        if typed.num_rows == 0:
            return
        kept_lines = lines[kept]
        provenance = {
            "source_file": pa.array(files[kept], pa.int32()),
            "source_line": pa.array(kept_lines, pa.int64(), mask=kept_lines < 0),
        }
        if kind is RecordKind.DECISION:
            self._stage_decisions(typed, files[kept])
            return
        if kind is RecordKind.ACCOUNT:
            self._known_accounts().add(typed.column("account_id").combine_chunks())
            changes, changed_ids = self._account_sync().changes(typed)
            self._stage_ledger("accounts", changes, ACCOUNT_CHANGE_SCHEMA)
            self._ledger_changed.append(changed_ids)
        spec = _TABLE_OF[kind]
        columns = {name: typed.column(name) for name in spec.data_columns}
        columns |= provenance
        self._writer.add(spec, pa.table(columns))

    def _without_erased(
        self,
        kind: RecordKind,
        typed: pa.Table,
        kept: Any,
        files: npt.NDArray[np.int32],
        lines: Lines,
    ) -> tuple[pa.Table, Any]:
        """Rows of erased accounts are refused, and their content is not kept even in the
        quarantine: an erasure (GDPR art. 17) must survive re-importing an old export."""
        if self._erased is None:
            self._erased = self._ledger.erased_accounts()
        if len(self._erased) == 0 or typed.num_rows == 0:
            return typed, kept
        owner = "author_id" if kind is RecordKind.CONTENT else "account_id"
        gone = np.asarray(
            pc.fill_null(pc.is_in(typed.column(owner), value_set=self._erased), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=np.bool_,
        )
        if not gone.any():
            return typed, kept
        names = self._writer.files
        kept = np.asarray(kept)
        id_columns = [c for c in _ERASED_IDS if c in typed.column_names]
        ids = typed.select(id_columns).filter(pa.array(gone)).to_pylist()
        for row, row_ids in zip(kept[gone], ids, strict=True):
            name = names[int(files[row])]
            line = int(lines[row])
            self._quarantine.write(
                Rejection(
                    name,
                    line if line >= 0 else None,
                    owner,
                    "the account was erased (consentry erase): nothing of it is imported again",
                    None,
                    kind.value,
                    {k: v for k, v in row_ids.items() if isinstance(v, str)},
                )
            )
            self._report.counts(name, kind.value).rejected += 1
        return typed.filter(pa.array(~gone)), kept[~gone]

    def _stage_decisions(self, typed: pa.Table, files: npt.NDArray[np.int32]) -> None:
        if self._decisions_sync is None:
            self._decisions_sync = DecisionSync(self._ledger)
        fresh = self._decisions_sync.fresh(typed)
        names = self._writer.files
        for n_file, (new, old) in enumerate(
            zip(
                np.bincount(files[fresh], minlength=len(names)),
                np.bincount(files[~fresh], minlength=len(names)),
                strict=True,
            )
        ):
            if new or old:
                counts = self._report.counts(names[n_file], RecordKind.DECISION.value)
                counts.imported += int(new)
                counts.unchanged += int(old)
        self._stage_ledger("decisions", typed.filter(pa.array(fresh)), DECISION_SCHEMA)

    def _stage_ledger(self, name: str, table: pa.Table, schema: pa.Schema) -> None:
        if table.num_rows == 0:
            return
        writer = self._ledger_writers.get(name)
        if writer is None:
            path = self._writer.staging / f"ledger-{name}.parquet"
            writer = self._ledger_writers[name] = pq.ParquetWriter(path, schema)
        writer.write_table(table.select(schema.names).cast(schema))

    # ---- the end -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("this import is finished")

    def finish(self) -> ImportReport:
        """Validate what is buffered, then commit: ledger entries (accounts, then decisions),
        then content. Returns the counts; ``read = imported + unchanged + rejected``."""
        self._check_open()
        try:
            self.flush()
            for writer in self._ledger_writers.values():
                writer.close()
            report = self._report
            report.quarantine = self._quarantine.written
            if self.strict and report.total.rejected:
                report.committed = False
                self.abort()
                return report
            self._writer.spill()  # content rows out of memory before the ledger's are built
            report.ledger_head, report.ledger_appended = self._append_ledger()
            changed = pa.concat_arrays(self._ledger_changed) if self._ledger_changed else None
            result = self._writer.commit({ACCOUNTS.name: changed} if changed is not None else None)
            self._finished = True
        except BaseException:
            if not self._finished:
                self.abort()
            raise
        names = self._writer.files
        kind_of = {t.name: k for k, t in _TABLE_OF.items()}
        for (table, n_file), c in result.counts.items():
            if not (c.imported or c.unchanged or c.updated or c.deleted):
                continue  # the store counts every (table, file) pair: no entry for nothing
            counts = report.counts(names[n_file], kind_of[table].value)
            counts.imported += c.imported
            counts.unchanged += c.unchanged
            counts.updated += c.updated
            counts.deleted += c.deleted
        for u in result.unresolved:
            name = names[u.source_file]
            self._quarantine.write(
                Rejection(
                    name,
                    u.source_line,
                    "id",
                    f"deletion of unknown content id {u.content_id!r}",
                    _raw_json({"id": u.content_id, "deleted_at": u.deleted_at.isoformat()}),
                    RecordKind.CONTENT.value,
                )
            )
            report.counts(name, RecordKind.CONTENT.value).rejected += 1
        self._quarantine.close()
        self._ledger.close()
        report.quarantine = self._quarantine.written
        return report

    def _append_ledger(self) -> tuple[Any, int]:
        appended = 0
        for name, to_payloads in (
            ("accounts", account_payloads),
            ("decisions", decision_payloads),
        ):
            path = self._writer.staging / f"ledger-{name}.parquet"
            if not path.exists():
                continue
            parquet = pq.ParquetFile(path)
            batches = (
                pa.Table.from_batches([b]) for b in parquet.iter_batches(batch_size=LEDGER_BATCH)
            )
            before = self._ledger.head().seq
            try:
                head = self._ledger.append_tables(batches, to_payloads)
            except Exception as exc:
                raise ImportDataError(f"the ledger refused the import's entries: {exc}") from exc
            appended += head.seq - before
        return self._ledger.head(), appended

    def abort(self) -> None:
        """Drop everything staged (nothing of this import becomes visible)."""
        if self._finished:
            return
        self._finished = True
        for writer in self._ledger_writers.values():
            writer.close()
        self._writer.abort()
        self._quarantine.close()
        self._ledger.close()


def lines_of(values: Sequence[int | None]) -> Lines:
    """Line numbers as ``add_batch`` takes them."""
    return np.asarray([-1 if v is None else v for v in values], dtype=np.int64)
