"""Import a canonical export (docs/canonical-format.md): a folder of JSONL or Parquet files.

    DIR/accounts.jsonl | accounts.parquet
    DIR/content.jsonl | content.parquet
    DIR/consent.jsonl | consent.parquet
    DIR/interactions.jsonl | interactions.parquet     (optional)

Files are imported in that order — accounts first (content needs its authors), then content,
interactions and decisions — through the vectorised path of ``consentry.platform.jsonl``. Any
file may be missing (content can refer to accounts imported before), but at least one must be
there: a folder with none of them is not an export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from consentry.errors import ImportDataError
from consentry.platform.fields import RecordKind
from consentry.platform.ingest import DEFAULT_MAX_TEXT_CHARS, Ingest
from consentry.platform.jsonl import import_jsonl, import_parquet
from consentry.platform.quarantine import Rejection
from consentry.platform.report import ImportReport
from consentry.platform.sources import unsafe_reason
from consentry.workspace import Workspace

#: File stem → kind of its records, in import order.
CANONICAL_FILES: Final = (
    ("accounts", RecordKind.ACCOUNT),
    ("content", RecordKind.CONTENT),
    ("interactions", RecordKind.INTERACTION),
    ("consent", RecordKind.DECISION),
)
FORMATS: Final = (".jsonl", ".parquet")
SOURCE: Final = "canonical"


@dataclass(frozen=True, slots=True)
class ExportFile:
    path: Path
    kind: RecordKind

    @property
    def name(self) -> str:
        return self.path.name


def find_export_files(folder: Path) -> list[ExportFile]:
    """The export's files in import order; ``ImportDataError`` when it is not an export."""
    if not folder.exists():
        raise ImportDataError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise ImportDataError(
            f"{folder}: not a folder (a canonical export is a folder with accounts.jsonl, "
            "content.jsonl, consent.jsonl)"
        )
    found = []
    for stem, kind in CANONICAL_FILES:
        # Links are listed too, so that they are refused with a reason rather than followed.
        paths = [folder / f"{stem}{ext}" for ext in FORMATS if _present(folder / f"{stem}{ext}")]
        if len(paths) > 1:
            raise ImportDataError(
                f"{folder}: both {paths[0].name} and {paths[1].name}; keep one of them"
            )
        if paths:
            found.append(ExportFile(paths[0], kind))
    if not found:
        names = ", ".join(f"{stem}.jsonl" for stem, _ in CANONICAL_FILES)
        raise ImportDataError(
            f"{folder}: not a canonical export (none of {names}, or their .parquet forms)"
        )
    return found


def _present(path: Path) -> bool:
    return path.is_file() or path.is_symlink()


def import_canonical(
    workspace: Workspace,
    folder: Path | str,
    *,
    strict: bool = False,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the export in ``folder``; ``progress(n)`` is told of each ``n`` bytes read."""
    files = find_export_files(Path(folder))
    with Ingest(workspace, source=SOURCE, strict=strict, max_text_chars=max_text_chars) as ingest:
        for f in files:
            refusal = unsafe_reason(f.path.parent, f.name)
            if refusal is not None:
                ingest.reject(Rejection(f.name, None, None, refusal, None, f.kind.value))
                continue
            read = import_parquet if f.path.suffix == ".parquet" else import_jsonl
            read(ingest, f.path, f.kind, file=f.name, progress=progress)
            ingest.end_of_file()
        report = ingest.finish()
    if all(f.kind is not RecordKind.DECISION for f in files):
        report.notices.append(
            f"{folder}: no consent file (consent.jsonl or consent.parquet) was found: no "
            "decision was imported, every author stays at the policy's default"
        )
    return report


def export_size(folder: Path | str) -> int:
    """Bytes an import of ``folder`` will read (for a progress bar)."""
    files = find_export_files(Path(folder))
    return sum(f.path.stat().st_size for f in files if unsafe_reason(f.path.parent, f.name) is None)
