"""What an import did: rows read, imported, unchanged and rejected, per file and per kind; and the
values it changed or dropped while keeping their items (warnings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from consentry.ledger import Position

UNKNOWN_KIND = "unknown"
#: Distinct warnings kept in a report; further kinds are counted together under
#: ``OTHER_WARNINGS``, per file and field.
MAX_WARNING_KINDS = 1_000
OTHER_WARNINGS = "other values changed or dropped (more kinds than the report lists)"


@dataclass
class Counts:
    """``read == imported + unchanged + rejected`` always holds once an import is finished.

    ``updated`` (new versions of records already stored) and ``deleted`` (versions recording a
    deletion) are parts of ``imported``, for information.
    """

    read: int = 0
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    updated: int = 0
    deleted: int = 0

    def add(self, other: Counts) -> None:
        self.read += other.read
        self.imported += other.imported
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.updated += other.updated
        self.deleted += other.deleted

    @property
    def adds_up(self) -> bool:
        return self.read == self.imported + self.unchanged + self.rejected


@dataclass(frozen=True, slots=True)
class ImportWarning:
    """A value an import changed or dropped, its item kept (a language read as ``zh-CN``, an
    account's missing creation time derived): what a parser yields beside its records."""

    file: str
    line: int | None
    field: str | None
    reason: str


@dataclass
class Warned:
    """How often one warning (file, field, reason) was given, and the first line it was on."""

    count: int = 0
    first_line: int | None = None


@dataclass
class ImportReport:
    """The outcome of one import (``Ingest.finish``).

    ``committed`` is False when nothing was written: a strict import that rejected something.
    """

    import_id: str
    source: str
    entries: dict[tuple[str, str], Counts] = field(default_factory=dict)
    quarantine: Path | None = None
    committed: bool = True
    strict: bool = False
    ledger_head: Position | None = None
    ledger_appended: int = 0
    #: Files not read to their end (truncated, corrupt), with the reason: what came before
    #: them was imported, but the import as a whole failed.
    incomplete: dict[str, str] = field(default_factory=dict)
    #: Things the user should know that are no rejected row (e.g. no consent file found).
    notices: list[str] = field(default_factory=list)
    #: ``(file, field, reason)`` → how often; a warning never changes ``Counts``.
    warnings: dict[tuple[str, str, str], Warned] = field(default_factory=dict)

    def warn(self, file: str, field: str | None, reason: str, line: int | None, n: int = 1) -> None:
        key = (file, field or "", reason)
        if key not in self.warnings and len(self.warnings) >= MAX_WARNING_KINDS:
            # Reasons name values (``language 'xx' …``): hostile input must not grow the report.
            key = (file, field or "", OTHER_WARNINGS)
        warned = self.warnings.setdefault(key, Warned())
        warned.count += n
        if warned.first_line is None:
            warned.first_line = line

    @property
    def warned(self) -> int:
        return sum(w.count for w in self.warnings.values())

    def counts(self, file: str, kind: str) -> Counts:
        return self.entries.setdefault((file, kind), Counts())

    @property
    def by_file(self) -> dict[str, Counts]:
        out: dict[str, Counts] = {}
        for (file, _), c in self.entries.items():
            out.setdefault(file, Counts()).add(c)
        return out

    @property
    def by_kind(self) -> dict[str, Counts]:
        out: dict[str, Counts] = {}
        for (_, kind), c in self.entries.items():
            out.setdefault(kind, Counts()).add(c)
        return out

    @property
    def total(self) -> Counts:
        out = Counts()
        for c in self.entries.values():
            out.add(c)
        return out

    @property
    def nothing_read(self) -> bool:
        """No row could be read at all: empty input, or every row rejected."""
        t = self.total
        return t.imported + t.unchanged == 0

    @property
    def failed(self) -> bool:
        """What the command line turns into a non-zero exit."""
        return (
            self.nothing_read or bool(self.incomplete) or (self.strict and self.total.rejected > 0)
        )
