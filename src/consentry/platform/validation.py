"""Value rules for canonical records, vectorised over Arrow tables (both import paths use them).

``validate(kind, table, rules, known)`` takes a table in ``input_schema(kind)`` (Parquet input
first goes through ``conform``), applies the kind's rules in order — a row is refused by the
first rule it breaks, with that rule's field and reason — and returns the rows that passed in
*typed* form (times as ``timestamp[us, UTC]``, dates as ``date32``, canonical names such as
``content_id``), plus the refusals. Rules are pyarrow compute kernels over whole columns; Python
only runs for refused rows (to word their reason) and for the rare block whose times do not
parse at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from consentry.ids import ID_CONTROL_CHARS, MAX_ID_CHARS
from consentry.masks import bool_mask
from consentry.model import (
    SHARE,
    AccountStatus,
    ContentKind,
    Decision,
    InteractionKind,
    Scope,
    Source,
    Visibility,
)
from consentry.platform.fields import FIELDS, FieldType, RecordKind, input_schema, type_reason
from consentry.platform.language import normalise_language

#: X Premium allows 25,000 characters, the largest post of a major platform; a longer text is
#: more likely a parsing accident (a whole file in one field) than a post.
DEFAULT_MAX_TEXT_CHARS: Final = 25_000
#: Times further ahead than this are refused (the ledger refuses them too: clocks drift).
CLOCK_SKEW: Final = timedelta(minutes=5)
EARLIEST_TIME: Final = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_BIRTH: Final = date(1900, 1, 1)

TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
_RFC3339: Final = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
_ISO_DATE: Final = r"^\d{4}-\d{2}-\d{2}$"
_COUNTRIES: Final = pa.array(sorted(c.alpha_2 for c in pycountry.countries))

Mask = npt.NDArray[np.bool_]


def _values(enum: Iterable[Any]) -> pa.Array:
    return pa.array(sorted(str(e.value) for e in enum))


_CONTENT_KINDS: Final = _values(ContentKind)
_VISIBILITIES: Final = _values(Visibility)
_STATUSES: Final = _values(AccountStatus)
_INTERACTION_KINDS: Final = _values(InteractionKind)
_DECISIONS: Final = _values(Decision)
_SOURCES: Final = _values(Source)
_SCOPES: Final = _values(Scope)


class AccountSet(Protocol):
    """Which account ids exist (in the workspace or earlier in this import)."""

    def contains(self, ids: pa.Array) -> Mask: ...


@dataclass(frozen=True, slots=True)
class Rules:
    """What validation depends on besides the rows."""

    purposes: frozenset[str]
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    default_source: str = Source.IMPORT.value


@dataclass(frozen=True, slots=True)
class Failure:
    row: int
    field: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Warnings:
    """Input rows (kept ones, ascending) whose ``field`` was changed or dropped, and why."""

    field: str
    reason: str
    rows: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Validated:
    """Rows that passed (typed), which input rows they were, why the others were refused, and
    which optional values of kept rows were normalised or dropped."""

    table: pa.Table
    kept: npt.NDArray[np.int64]
    failures: list[Failure]
    warnings: list[Warnings] = field(default_factory=list)


# ---- helpers ------------------------------------------------------------------------------------


def _str(col: Any, i: int) -> str:
    value = col[i].as_py()
    return str(value)


def _lengths(col: pa.Array) -> npt.NDArray[np.int64]:
    """Byte length of each string (0 for null), from the offsets alone."""
    if col.null_count == len(col):
        return np.zeros(len(col), dtype=np.int64)
    out = pc.fill_null(pc.binary_length(col), 0).to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=np.int64)


def _blank(col: pa.Array) -> Mask:
    if not pa.types.is_string(col.type):  # e.g. a Parquet timestamp column
        return bool_mask(pc.is_null(col))
    blank: Mask = _lengths(col) == 0  # null or ""
    return blank


def _longer_than(column: pa.Array, limit: int) -> Mask:
    """Strings of more than ``limit`` characters (code points), counted only where the byte
    length says it is possible: counting code points costs more than counting bytes."""
    maybe = _lengths(column) > limit
    if not maybe.any():
        return maybe
    return bool_mask(pc.greater(pc.utf8_length(column), limit))


def _null_if_blank(col: pa.Array) -> pa.Array:
    empty = (
        (_lengths(col) == 0) & ~bool_mask(pc.is_null(col)) if col.null_count < len(col) else None
    )
    if empty is None or not empty.any():
        return col
    return pc.if_else(pa.array(empty), pa.scalar(None, col.type), col)


class _Checks:
    """Applies rules in order; each row keeps only the first rule it breaks."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._columns: dict[str, pa.Array] = {}
        self.n = table.num_rows
        self.bad = np.zeros(self.n, dtype=np.bool_)
        self._found: list[tuple[npt.NDArray[np.int64], str | None, Callable[[int], str]]] = []
        self._notes: list[tuple[str, str, npt.NDArray[np.int64]]] = []

    @property
    def table(self) -> pa.Table:
        return self._table

    def col(self, name: str) -> pa.Array:
        """A column as one array (combined once: blocks arrive in several chunks)."""
        column = self._columns.get(name)
        if column is None:
            chunked = self._table.column(name)
            if not isinstance(chunked, pa.ChunkedArray):
                column = chunked
            elif chunked.num_chunks == 1:  # combine_chunks would copy even a single chunk
                column = chunked.chunk(0)
            else:
                column = chunked.combine_chunks()
            self._columns[name] = column
        return column

    def replace(self, name: str, column: pa.Array) -> None:
        """Use a normalised column (defaults filled in) for the rules that follow."""
        self._columns[name] = column

    def fail(self, mask: Mask, field: str | None, reason: str | Callable[[int], str]) -> None:
        new = mask & ~self.bad
        if not new.any():
            return
        self.bad |= new
        why = reason if callable(reason) else (lambda _i, r=reason: r)
        self._found.append((np.nonzero(new)[0], field, why))

    def note(self, rows: npt.NDArray[np.int64], field: str, reason: str) -> None:
        """Rows (ascending) whose optional ``field`` was normalised or dropped (kept rows)."""
        if len(rows):
            self._notes.append((field, reason, rows))

    def warnings(self) -> list[Warnings]:
        """The notes of rows no rule refused."""
        out = []
        for name, reason, noted in self._notes:
            rows = noted[~self.bad[noted]]
            if len(rows):
                out.append(Warnings(name, reason, rows))
        return out

    def required(self, name: str) -> None:
        self.fail(_blank(self.col(name)), name, f"missing {name}")

    def one_of(self, name: str, allowed: pa.Array, what: str) -> None:
        column = self.col(name)
        unknown = bool_mask(pc.and_(pc.is_valid(column), pc.invert(pc.is_in(column, allowed))))
        self.fail(unknown, name, lambda i: f"unknown {what} {_str(column, i)!r}")

    def id_length(self, name: str) -> None:
        """The rule of ``check_id``, over a column."""
        column = self.col(name)
        self.fail(
            _longer_than(column, MAX_ID_CHARS),
            name,
            f"{name} is longer than {MAX_ID_CHARS} characters",
        )
        self.fail(
            bool_mask(pc.match_substring_regex(column, ID_CONTROL_CHARS)),
            name,
            f"{name} contains a control character",
        )

    def failures(self) -> list[Failure]:
        out = [Failure(int(i), name, why(int(i))) for rows, name, why in self._found for i in rows]
        out.sort(key=lambda f: f.row)
        return out

    def kept(self) -> npt.NDArray[np.int64]:
        return np.nonzero(~self.bad)[0]


# ---- times and dates ----------------------------------------------------------------------------


def _cast_each(values: pa.Array, ok: Mask, to: pa.DataType) -> Mask:
    """Which of the ``ok`` values do not cast (one by one: only when the whole column failed)."""
    impossible = np.zeros(len(values), dtype=np.bool_)
    for i in np.nonzero(ok)[0]:
        try:
            values.slice(int(i), 1).cast(to)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            impossible[i] = True
    return impossible


def _cast_valid(values: pa.Array, ok: Mask, to: pa.DataType) -> tuple[pa.Array, Mask]:
    """Cast the ``ok`` values; the others become null. Also which ``ok`` values did not cast."""
    candidates = pc.if_else(pa.array(ok), values, pa.scalar(None, values.type))
    try:
        return candidates.cast(to), np.zeros(len(values), dtype=np.bool_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        impossible = _cast_each(values, ok, to)
        keep = pa.array(ok & ~impossible)
        return pc.if_else(keep, values, pa.scalar(None, values.type)).cast(to), impossible


def check_time(checks: _Checks, name: str, now: datetime) -> pa.Array:
    """Check an RFC 3339 time column; returns it as ``timestamp[us, UTC]`` (null where refused)."""
    column = checks.col(name)
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            checks.fail(bool_mask(pc.is_valid(column)), name, "time has no UTC offset")
            return pa.nulls(len(column), TIMESTAMP)
        parsed = column.cast(TIMESTAMP)
    else:
        present = bool_mask(pc.is_valid(column))
        well_formed = bool_mask(pc.match_substring_regex(column, _RFC3339))
        checks.fail(
            present & ~well_formed,
            name,
            lambda i: f"not an RFC 3339 time with offset: {_str(column, i)!r}",
        )
        try:  # the usual case: every value parses as it is
            parsed = column.cast(TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # Arrow parses at most microseconds and only upper-case T/Z.
            upper = pc.utf8_upper(column)
            normalised = pc.replace_substring_regex(upper, r"(\.\d{6})\d+", r"\1")
            parsed, impossible = _cast_valid(normalised, well_formed, TIMESTAMP)
            checks.fail(impossible, name, lambda i: f"impossible date {_str(column, i)!r}")
    early = bool_mask(pc.less(parsed, pa.scalar(EARLIEST_TIME, TIMESTAMP)))
    checks.fail(early, name, lambda i: f"impossible date {_str(column, i)!r} (before 1970)")
    future = bool_mask(pc.greater(parsed, pa.scalar(now + CLOCK_SKEW, TIMESTAMP)))
    checks.fail(future, name, lambda i: f"time {_str(column, i)!r} is in the future")
    return parsed


def check_date(checks: _Checks, name: str, today: date) -> pa.Array:
    column = checks.col(name)
    if pa.types.is_date(column.type):
        parsed = column.cast(pa.date32())
    else:
        present = bool_mask(pc.is_valid(column))
        well_formed = bool_mask(pc.match_substring_regex(column, _ISO_DATE))
        checks.fail(
            present & ~well_formed,
            name,
            lambda i: f"not a YYYY-MM-DD date: {_str(column, i)!r}",
        )
        parsed, impossible = _cast_valid(column, well_formed, pa.date32())
        checks.fail(impossible, name, lambda i: f"impossible date {_str(column, i)!r}")
    early = bool_mask(pc.less(parsed, pa.scalar(EARLIEST_BIRTH, pa.date32())))
    checks.fail(early, name, lambda i: f"impossible date {_str(column, i)!r} (before 1900)")
    future = bool_mask(pc.greater(parsed, pa.scalar(today, pa.date32())))
    checks.fail(future, name, lambda i: f"date {_str(column, i)!r} is in the future")
    return parsed


# ---- per kind -----------------------------------------------------------------------------------


def _ids(checks: _Checks, kind: RecordKind) -> None:
    for spec in FIELDS[kind]:
        if spec.type is FieldType.ID:
            checks.id_length(spec.name)


def _accounts(checks: _Checks, rules: Rules, known: AccountSet) -> dict[str, pa.Array]:
    checks.required("id")
    _ids(checks, RecordKind.ACCOUNT)
    checks.required("handle")
    handle = pc.replace_substring_regex(checks.col("handle"), r"^@", "")
    checks.fail(
        bool_mask(pc.match_substring_regex(handle, r"\s")),
        "handle",
        lambda i: f"handle {_str(handle, i)!r} contains whitespace",
    )
    checks.required("created_at")
    created = check_time(checks, "created_at", rules.now)
    country = _null_if_blank(pc.utf8_upper(checks.col("country")))
    unknown = bool_mask(pc.and_(pc.is_valid(country), pc.invert(pc.is_in(country, _COUNTRIES))))
    checks.fail(unknown, "country", lambda i: f"unknown country code {_str(country, i)!r}")
    birth = check_date(checks, "birth_date", rules.now.date())
    status = _null_if_blank(checks.col("status"))
    checks.replace("status", status)
    checks.one_of("status", _STATUSES, "status")
    return {
        "account_id": checks.col("id"),
        "handle": handle,
        "display_name": _null_if_blank(checks.col("display_name")),
        "created_at": created,
        "country": country,
        "birth_date": birth,
        "protected": pc.fill_null(checks.col("protected"), False),
        "status": pc.fill_null(status, AccountStatus.ACTIVE.value),
    }


def _strip_at(mentions: pa.Array) -> pa.Array:
    """Handles listed without their ``@`` (sources differ)."""
    if mentions.null_count == len(mentions) or len(mentions.values) == 0:
        return mentions
    flat = pc.replace_substring_regex(mentions.values, r"^@", "")
    offsets = mentions.offsets
    return pa.ListArray.from_arrays(offsets, flat, mask=mentions.is_null())


def _languages(checks: _Checks, lang: pa.Array) -> pa.Array:
    """``lang`` in canonical BCP 47 form, null where it is no tag, each change noted. Only the
    distinct values are looked at (a column holds a handful of languages)."""
    if lang.null_count == len(lang):
        return lang
    distinct = pc.unique(lang.drop_null())
    read = [normalise_language(v) for v in distinct.to_pylist()]
    if all(r.note is None for r in read):
        return lang
    slot = pc.index_in(lang, value_set=distinct)
    slots = np.asarray(pc.fill_null(slot, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    noted = np.array([r.note is not None for r in read] + [False])  # [-1]: no language
    rows = np.nonzero(noted[slots])[0].astype(np.int64)  # never empty: each value is in a row
    # Grouped by value in one sort: a column of many distinct bad values stays one pass.
    order = np.argsort(slots[rows], kind="stable")
    values, starts = np.unique(slots[rows][order], return_index=True)
    for value, group in zip(values, np.split(rows[order], starts[1:]), strict=True):
        note = read[int(value)].note
        if note is not None:
            checks.note(group, "lang", note)
    return pa.array([r.tag for r in read], pa.string()).take(slot)


def _content(checks: _Checks, rules: Rules, known: AccountSet) -> dict[str, pa.Array]:
    checks.required("id")
    _ids(checks, RecordKind.CONTENT)
    checks.required("author_id")
    author = checks.col("author_id")
    unknown = bool_mask(pc.is_valid(author)) & ~known.contains(author)
    checks.fail(unknown, "author_id", lambda i: f"unknown author {_str(author, i)!r}")
    checks.required("kind")
    checks.one_of("kind", _CONTENT_KINDS, "kind")
    checks.required("visibility")
    checks.one_of("visibility", _VISIBILITIES, "visibility")
    checks.required("created_at")
    created = check_time(checks, "created_at", rules.now)
    deleted = check_time(checks, "deleted_at", rules.now)
    checks.fail(
        bool_mask(pc.less(deleted, created)), "deleted_at", "deleted_at is before created_at"
    )
    text = pc.fill_null(checks.col("text"), "")
    checks.fail(
        _longer_than(text, rules.max_text_chars),
        "text",
        lambda i: (
            f"text is {len(_str(text, i)):,} characters, over the limit of {rules.max_text_chars:,}"
        ),
    )
    lang = _languages(checks, _null_if_blank(checks.col("lang")))
    mentions = checks.col("mentions")
    return {
        "content_id": checks.col("id"),
        "author_id": author,
        "kind": checks.col("kind"),
        "text": text,
        "created_at": created,
        "lang": lang,
        "visibility": checks.col("visibility"),
        "in_reply_to": _null_if_blank(checks.col("in_reply_to")),
        "quote_of": _null_if_blank(checks.col("quote_of")),
        "repost_of": _null_if_blank(checks.col("repost_of")),
        "conversation_id": _null_if_blank(checks.col("conversation_id")),
        "deleted_at": deleted,
        "media": checks.col("media"),
        "mentions": _strip_at(mentions),
    }


def _interactions(checks: _Checks, rules: Rules, known: AccountSet) -> dict[str, pa.Array]:
    checks.required("account_id")
    _ids(checks, RecordKind.INTERACTION)
    account = checks.col("account_id")
    unknown = bool_mask(pc.is_valid(account)) & ~known.contains(account)
    checks.fail(unknown, "account_id", lambda i: f"unknown account {_str(account, i)!r}")
    checks.required("content_id")
    checks.required("kind")
    checks.one_of("kind", _INTERACTION_KINDS, "interaction kind")
    checks.required("at")
    at = check_time(checks, "at", rules.now)
    return {
        "account_id": account,
        "content_id": checks.col("content_id"),
        "kind": checks.col("kind"),
        "at": at,
    }


def _decisions(checks: _Checks, rules: Rules, known: AccountSet) -> dict[str, pa.Array]:
    checks.required("account_id")
    _ids(checks, RecordKind.DECISION)
    checks.required("purpose")
    purposes = pa.array(sorted(rules.purposes), pa.string())
    purpose = checks.col("purpose")
    names = ", ".join(sorted(rules.purposes))
    checks.fail(
        bool_mask(pc.and_(pc.is_valid(purpose), pc.invert(pc.is_in(purpose, purposes)))),
        "purpose",
        lambda i: f"unknown purpose {_str(purpose, i)!r} (the policy has: {names})",
    )
    checks.required("decision")
    checks.one_of("decision", _DECISIONS, "decision")
    checks.required("at")
    at = check_time(checks, "at", rules.now)
    source = pc.fill_null(_null_if_blank(checks.col("source")), rules.default_source)
    checks.replace("source", source)
    checks.one_of("source", _SOURCES, "source")
    scope = _null_if_blank(checks.col("scope"))
    checks.replace("scope", scope)
    checks.one_of("scope", _SCOPES, "scope")
    recipient = _null_if_blank(checks.col("recipient"))
    checks.fail(
        bool_mask(pc.and_(pc.is_valid(recipient), pc.not_equal(purpose, SHARE))),
        "recipient",
        "only a share decision can name a recipient",
    )
    return {
        "account_id": checks.col("account_id"),
        "purpose": purpose,
        "decision": checks.col("decision"),
        "at": at,
        "source": source,
        "scope": scope,
        "notice_version": _null_if_blank(checks.col("notice_version")),
        "recipient": recipient,
    }


_RULES: Final[dict[RecordKind, Callable[[_Checks, Rules, AccountSet], dict[str, pa.Array]]]] = {
    RecordKind.ACCOUNT: _accounts,
    RecordKind.CONTENT: _content,
    RecordKind.INTERACTION: _interactions,
    RecordKind.DECISION: _decisions,
}


def validate(kind: RecordKind, table: pa.Table, rules: Rules, known: AccountSet) -> Validated:
    """Apply ``kind``'s rules to ``table`` (in ``input_schema(kind)`` or conformed to it)."""
    checks = _Checks(table)
    columns = _RULES[kind](checks, rules, known)
    kept = checks.kept()
    typed = pa.table(columns)
    if len(kept) < table.num_rows:
        typed = typed.take(pa.array(kept))
    return Validated(typed, kept, checks.failures(), checks.warnings())


def validate_deletions(table: pa.Table, rules: Rules) -> Validated:
    """Deletions known by id only (``id``, ``deleted_at``): the same id and time rules."""
    checks = _Checks(table)
    checks.required("id")
    checks.id_length("id")
    checks.required("deleted_at")
    deleted = check_time(checks, "deleted_at", rules.now)
    kept = checks.kept()
    typed = pa.table({"content_id": checks.col("id"), "deleted_at": deleted}).take(pa.array(kept))
    return Validated(typed, kept, checks.failures())


# ---- other inputs than JSON ---------------------------------------------------------------------


def _arrow_type_name(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "a number"
    if pa.types.is_boolean(t):
        return "a boolean"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "a string"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "a list"
    if pa.types.is_struct(t):
        return "an object"
    return f"a {t}"


def _fits(ftype: FieldType, t: pa.DataType, expected: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if ftype is FieldType.TIME and pa.types.is_timestamp(t):
        return True
    if ftype is FieldType.DATE and pa.types.is_date(t):
        return True
    if ftype in (FieldType.MEDIA, FieldType.STRINGS):
        return bool(pa.types.is_list(t) or pa.types.is_large_list(t))
    if expected == pa.string():
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t))
    return bool(t == expected)


def conform(
    kind: RecordKind, table: pa.Table
) -> tuple[pa.Table, list[Failure], Mask, list[Warnings]]:
    """Bring a table of another origin (Parquet) to ``input_schema(kind)``.

    Missing columns become nulls; a column of the wrong type refuses each row that has a value
    in it, with the words of the per-record path (an integer id: "ids must be strings"), but for
    a droppable field (language, media …), which is dropped with a warning instead.
    Timestamp and date columns are kept as such (``validate`` takes them as they are).
    Returns the conformed table, the refusals, which rows they were, and the warnings.
    """
    schema = input_schema(kind)
    failures: list[Failure] = []
    warnings: list[Warnings] = []
    bad = np.zeros(table.num_rows, dtype=np.bool_)
    columns: dict[str, pa.Array] = {}
    for spec in FIELDS[kind]:
        expected = schema.field(spec.name).type
        columns[spec.name] = pa.nulls(table.num_rows, expected)
        if spec.name not in table.column_names:
            continue
        column = table.column(spec.name)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if _fits(spec.type, column.type, expected):
            if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
                columns[spec.name] = column
                continue
            try:
                columns[spec.name] = column.cast(expected)
                continue
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        reason = type_reason(spec, _arrow_type_name(column.type))
        if spec.droppable:
            given = np.nonzero(bool_mask(pc.is_valid(column)))[0].astype(np.int64)
            warnings.append(Warnings(spec.name, f"{reason}; dropped", given))
            continue
        rows = bool_mask(pc.is_valid(column)) & ~bad
        bad |= rows
        failures.extend(Failure(int(i), spec.name, reason) for i in np.nonzero(rows)[0])
    return pa.table(columns), failures, bad, warnings


def validate_foreign(
    kind: RecordKind, table: pa.Table, rules: Rules, known: AccountSet
) -> Validated:
    """``conform`` then ``validate``; rows and failures numbered as in ``table``."""
    conformed, failures, bad, dropped = conform(kind, table)
    rows = np.nonzero(~bad)[0]
    if len(rows) < table.num_rows:
        conformed = conformed.take(pa.array(rows))
    result = validate(kind, conformed, rules, known)
    failures += [Failure(int(rows[f.row]), f.field, f.reason) for f in result.failures]
    failures.sort(key=lambda f: f.row)
    kept = rows[result.kept]
    warnings = [Warnings(w.field, w.reason, rows[w.rows]) for w in result.warnings]
    # Type warnings of rows refused later are not warnings: only kept rows count.
    warnings += [Warnings(w.field, w.reason, w.rows[np.isin(w.rows, kept)]) for w in dropped]
    return Validated(result.table, kept, failures, [w for w in warnings if len(w.rows)])
