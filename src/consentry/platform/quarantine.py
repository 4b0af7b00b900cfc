"""Rejected input rows, kept with the reason they were refused.

Every row an importer refuses ends up here, one JSON object per line, in
``<workspace>/quarantine/<import-id>.jsonl``::

    {"file": "content.jsonl", "line": 42, "kind": "content", "field": "created_at",
     "reason": "impossible date '2024-02-30T10:00:00Z'", "raw": "{\"id\": \"9001\", …}"}

``line`` is 1-based (for Parquet input: the row number, 1-based); ``raw`` is the row as read
(undecodable bytes shown as ``\\xNN`` escapes, capped at ``RAW_LIMIT`` characters so that a
runaway line cannot fill the disk twice). The file is only created when something is rejected.

A row that is not the words of the person or platform the input speaks for — a direct message
the other person of a conversation wrote, an activity by another actor, a like's copy of the
liked tweet, a row of an erased account — keeps no text: only file, line, field, reason and its
``ids`` (``{"id": …, "author_id": …}``, or paths into the source row for a row that was never a
record), so that it can still be found in the source and counted; ``raw`` is ``null``. Such
rows are handed over as ``Withheld`` (or as a ``Rejection`` with ``ids``).

``"incomplete": true`` marks the rejection after which a file could not be read (a truncated
``.zst``): the import keeps the rows before it and exits non-zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any, Final

from consentry.platform.fields import FIELDS, FieldType, RecordKind

RAW_LIMIT: Final = 100_000


@dataclass(frozen=True)
class Rejection:
    """One refused row: where it was, which field, why, and the row itself.

    ``kind`` (``account``, ``content``, ``interaction``, ``decision``) is optional: a parser that
    cannot tell what a broken row was meant to be leaves it ``None``.
    """

    file: str
    line: int | None
    field: str | None
    reason: str
    raw: str | None
    kind: str | None = None
    #: Set for someone else's row (see the module docstring): then ``raw`` is never written.
    ids: Mapping[str, str] | None = None
    #: The file could not be read to its end from here (truncated, corrupt …): the import
    #: keeps what came before but does not succeed.
    incomplete: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        what = f" field {self.field!r}:" if self.field else ""
        return f"{where}:{what} {self.reason}"


@dataclass(frozen=True, slots=True)
class Withheld:
    """Someone else's row, standing in for its text: only ``ids`` reach the quarantine."""

    ids: Mapping[str, str]


#: What a rejected row is kept as: its text, ``Withheld``, or nothing.
Original = str | Withheld | None


def refused(
    file: str, line: int | None, field: str | None, reason: str, original: Original, kind: str
) -> Rejection:
    """The rejection of a row kept as ``original`` (its text, or only its ids when withheld)."""
    if isinstance(original, Withheld):
        return Rejection(file, line, field, reason, None, kind, original.ids)
    return Rejection(file, line, field, reason, original, kind)


def withheld(rejection: Rejection, ids: Mapping[str, str]) -> Rejection:
    """``rejection`` without its text, kept with ``ids`` instead."""
    return replace(rejection, raw=None, ids=ids)


def record_ids(kind: RecordKind, record: Mapping[str, Any]) -> dict[str, str]:
    """The id fields of a canonical record that hold a string (its own id, author, parent …)."""
    return {
        spec.name: value
        for spec in FIELDS[kind]
        if spec.type is FieldType.ID and isinstance(value := record.get(spec.name), str) and value
    }


def raw_text(data: bytes | str | None) -> str | None:
    """A row as text for the quarantine file, whatever its encoding."""
    if data is None:
        return None
    if isinstance(data, bytes):
        text = data.decode("utf-8", errors="backslashreplace")
    else:
        # Undecodable bytes reach here as lone surrogates (surrogateescape): show them as the
        # bytes they were, ``\xff``; other lone surrogates as ``\ud800``.
        try:
            text = data.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            text = data.encode("utf-8", errors="backslashreplace").decode("utf-8")
    text = text.rstrip("\r\n")
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…"


class Quarantine:
    """Append-only writer of one import's rejections (the file appears with the first one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._fh: IO[bytes] | None = None

    def write(self, rejection: Rejection) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab")
        record = asdict(rejection)
        if not rejection.incomplete:
            del record["incomplete"]
        if rejection.ids is None:
            del record["ids"]
            record["raw"] = raw_text(rejection.raw)
        else:
            record["raw"] = None  # someone else's words are never kept, whatever the caller gave
            record["ids"] = dict(rejection.ids)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self._fh.write(line.encode("utf-8", errors="backslashreplace"))
        self.count += 1

    @property
    def written(self) -> Path | None:
        """The quarantine file, when anything was rejected."""
        return self.path if self.count else None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_quarantine(path: Path) -> list[Rejection]:
    """Rejections written by ``Quarantine`` (for tests and ``consentry`` reports)."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            out.append(
                Rejection(
                    d["file"],
                    d["line"],
                    d["field"],
                    d["reason"],
                    d["raw"],
                    d.get("kind"),
                    d.get("ids"),
                    d.get("incomplete", False),
                )
            )
    return out
