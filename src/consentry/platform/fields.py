"""The canonical record formats: which fields each kind of record has, and their types.

One table of ``FieldSpec`` per record kind is the single definition both import paths use: the
per-record path (``Ingest.account(dict)`` …) checks Python types with ``check_record``; the
vectorised path reads JSONL/Parquet straight into ``input_schema(kind)`` (a block whose types do
not fit falls back to the per-record path, so a wrong type is always reported by
``check_record`` with the same words). Value rules (missing id, unknown kind, impossible date…)
live in ``consentry.platform.validation`` and run on Arrow batches for both paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

import pyarrow as pa

from consentry.content.schema import MEDIA_TYPE


class RecordKind(StrEnum):
    ACCOUNT = "account"
    CONTENT = "content"
    INTERACTION = "interaction"
    DECISION = "decision"


class FieldType(StrEnum):
    ID = "id"  # a string id (never a number: 64-bit ids do not survive JSON numbers)
    STRING = "string"
    TIME = "time"  # RFC 3339 with offset
    DATE = "date"  # YYYY-MM-DD
    BOOL = "bool"
    MEDIA = "media"  # list of {"type": str, "alt_text": str | None}
    STRINGS = "strings"  # list of str


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType
    required: bool = False
    #: A descriptive optional field (language, media, mentions, display name): a value of the
    #: wrong type is dropped with a warning rather than costing its record. Fields that decide
    #: eligibility (deletion, age, country, protection, scope) are never droppable: without
    #: them a record would be judged on a state it does not have.
    droppable: bool = False


ARROW_INPUT_TYPE: Final[Mapping[FieldType, pa.DataType]] = {
    FieldType.ID: pa.string(),
    FieldType.STRING: pa.string(),
    FieldType.TIME: pa.string(),
    FieldType.DATE: pa.string(),
    FieldType.BOOL: pa.bool_(),
    FieldType.MEDIA: MEDIA_TYPE,
    FieldType.STRINGS: pa.list_(pa.string()),
}

F = FieldSpec
T = FieldType

FIELDS: Final[Mapping[RecordKind, tuple[FieldSpec, ...]]] = {
    RecordKind.ACCOUNT: (
        F("id", T.ID, required=True),
        F("handle", T.STRING, required=True),
        F("display_name", T.STRING, droppable=True),
        F("created_at", T.TIME, required=True),
        F("country", T.STRING),
        F("birth_date", T.DATE),
        F("protected", T.BOOL),
        F("status", T.STRING),
    ),
    RecordKind.CONTENT: (
        F("id", T.ID, required=True),
        F("author_id", T.ID, required=True),
        F("kind", T.STRING, required=True),
        F("text", T.STRING),
        F("created_at", T.TIME, required=True),
        F("lang", T.STRING, droppable=True),
        F("visibility", T.STRING, required=True),
        F("in_reply_to", T.ID),
        F("quote_of", T.ID),
        F("repost_of", T.ID),
        F("conversation_id", T.ID),
        F("deleted_at", T.TIME),
        F("media", T.MEDIA, droppable=True),
        F("mentions", T.STRINGS, droppable=True),
    ),
    RecordKind.INTERACTION: (
        F("account_id", T.ID, required=True),
        F("content_id", T.ID, required=True),
        F("kind", T.STRING, required=True),
        F("at", T.TIME, required=True),
    ),
    RecordKind.DECISION: (
        F("account_id", T.ID, required=True),
        F("purpose", T.STRING, required=True),
        F("decision", T.STRING, required=True),
        F("at", T.TIME, required=True),
        F("source", T.STRING),
        F("scope", T.STRING),
        F("notice_version", T.STRING),
        F("recipient", T.STRING),
    ),
}

_SCHEMAS: Final = {
    kind: pa.schema([(f.name, ARROW_INPUT_TYPE[f.type]) for f in specs])
    for kind, specs in FIELDS.items()
}


def input_schema(kind: RecordKind) -> pa.Schema:
    """The Arrow schema records of ``kind`` are read into (times and dates still as text)."""
    return _SCHEMAS[kind]


class RecordTypeError(ValueError):
    """A field holds a value of the wrong type; ``field`` names it."""

    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def type_reason(spec: FieldSpec, got: str) -> str:
    """Why a value of type ``got`` ("a number", …) does not fit ``spec`` (both paths say this)."""
    expected = {
        T.ID: "ids must be strings (64-bit ids do not survive JSON numbers)",
        T.STRING: "must be a string",
        T.TIME: "must be an RFC 3339 time string",
        T.DATE: "must be a YYYY-MM-DD date string",
        T.BOOL: "must be true or false",
        T.MEDIA: 'must be a list of {"type", "alt_text"} objects',
        T.STRINGS: "must be a list of strings",
    }[spec.type]
    return f"{expected}, got {got}"


def _check_text(spec: FieldSpec, value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordTypeError(spec.name, "invalid UTF-8 (or a lone surrogate)") from None
    return value


def _check_value(spec: FieldSpec, value: object) -> object:
    t = spec.type
    if t in (T.ID, T.STRING):
        if isinstance(value, str):
            return _check_text(spec, value)
    elif t is T.TIME:
        if isinstance(value, str):
            return _check_text(spec, value)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise RecordTypeError(spec.name, "time has no UTC offset")
            return value.isoformat()
    elif t is T.DATE:
        if isinstance(value, str):
            return _check_text(spec, value)
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
    elif t is T.BOOL:
        if isinstance(value, bool):
            return value
    elif t is T.MEDIA:
        if isinstance(value, list) and all(_is_media(m) for m in value):
            return [
                {"type": _check_text(spec, m.get("type") or ""), "alt_text": m.get("alt_text")}
                for m in value
            ]
    elif t is T.STRINGS and isinstance(value, list) and all(isinstance(s, str) for s in value):
        return [_check_text(spec, s) for s in value]
    raise RecordTypeError(spec.name, type_reason(spec, _type_name(value)))


def _is_media(m: object) -> bool:
    return (
        isinstance(m, dict)
        and isinstance(m.get("type"), str | None)
        and isinstance(m.get("alt_text"), str | None)
    )


def check_record(
    kind: RecordKind, record: object, dropped: list[tuple[str, str]] | None = None
) -> dict[str, object]:
    """The record's fields of ``kind``, type-checked (``RecordTypeError`` names the first bad one).

    Returns a dict with exactly the fields of ``input_schema(kind)`` (missing ones ``None``),
    ready for ``pa.Table.from_pylist``; values are only type-checked here, not validated. With
    ``dropped``, a droppable field of the wrong type becomes ``None`` and ``(field, reason)``
    is added to it instead.
    """
    if not isinstance(record, Mapping):
        raise RecordTypeError(None, f"not a JSON object (got {_type_name(record)})")
    out: dict[str, object] = {}
    for spec in FIELDS[kind]:
        value = record.get(spec.name)
        try:
            out[spec.name] = None if value is None else _check_value(spec, value)
        except RecordTypeError as exc:
            if dropped is None or not spec.droppable:
                raise
            out[spec.name] = None
            dropped.append((spec.name, f"{exc.reason}; dropped"))
    return out
