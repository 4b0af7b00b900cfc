"""Rejected input rows, kept with the reason they were refused.

Every row an importer refuses ends up here, one JSON object per line, in
``<workspace>/quarantine/<import-id>.jsonl``::

    {"file": "content.jsonl", "line": 42, "kind": "content", "field": "created_at",
     "reason": "impossible date '2024-02-30T10:00:00Z'", "raw": "{\"id\": \"9001\", …}"}

``line`` is 1-based (for Parquet input: the row number, 1-based); ``raw`` is the row as read
(undecodable bytes shown as ``\\xNN`` escapes, capped at ``RAW_LIMIT`` characters so that a
runaway line cannot fill the disk twice). The file is only created when something is rejected.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Final

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

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        what = f" field {self.field!r}:" if self.field else ""
        return f"{where}:{what} {self.reason}"


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
        record["raw"] = raw_text(rejection.raw)
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
                Rejection(d["file"], d["line"], d["field"], d["reason"], d["raw"], d.get("kind"))
            )
    return out
