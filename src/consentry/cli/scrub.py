"""``consentry scrub IN OUT``: scrub the text column of a JSONL or Parquet file, standalone."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer

from consentry.cli.common import WorkspaceOption, console, handle_errors, open_workspace
from consentry.errors import ImportDataError, UsageError
from consentry.outputs import check_output_file, remember_written
from consentry.scrub import MentionResolver, Pseudonymiser, scrub_array
from consentry.scrub.scrubber import REPLACED_TYPES

FORMATS = ("jsonl", "parquet")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


def _format_of(path: Path, forced: str | None, role: str) -> str:
    if forced is not None:
        return forced
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"{role} {path}: cannot tell the format from the extension; "
            "use .jsonl or .parquet, or --format"
        )
    return fmt


def _describe(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)


# ---------------------------------------------------------------- reading


def _jsonl_batches(path: Path, column: str, size: int) -> Iterator[list[dict[str, Any]]]:
    """Records of a JSONL file, checked line by line so that errors name the line and field."""
    batch: list[dict[str, Any]] = []
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportDataError(
                    f"{path}:{line_no}: invalid UTF-8 at byte {exc.start + 1} of the line"
                ) from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ImportDataError(f"{path}:{line_no}: not valid JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise ImportDataError(
                    f"{path}:{line_no}: expected a JSON object, found {_describe(record)}"
                )
            if column not in record:
                raise ImportDataError(f"{path}:{line_no}: no field {column!r}")
            value = record[column]
            if value is not None and not isinstance(value, str):
                raise ImportDataError(
                    f"{path}:{line_no}: field {column!r} is {_describe(value)}, not a string"
                )
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def _parquet_batches(path: Path, column: str, size: int) -> Iterator[pa.Table]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportDataError(f"{path}: not a readable Parquet file ({exc})") from None
    schema = pf.schema_arrow
    if column not in schema.names:
        raise ImportDataError(f"{path}: no column {column!r} (columns: {', '.join(schema.names)})")
    kind = schema.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise ImportDataError(f"{path}: column {column!r} is {kind}, not a string")
    for batch in pf.iter_batches(batch_size=size):
        yield pa.Table.from_batches([batch])


# ---------------------------------------------------------------- writing


class _Writer:
    """Writes OUT through a temporary file renamed at the end: no half-written output."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        # A fresh name: a file left there by anyone else is never overwritten.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self._jsonl = self.tmp.open("w", encoding="utf-8") if fmt == "jsonl" else None
        self._parquet: pq.ParquetWriter | None = None

    def write_records(self, records: list[dict[str, Any]]) -> None:
        if self._jsonl is not None:
            for r in records:
                self._jsonl.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
            return
        self.write_table(pa.Table.from_pylist(records))

    def write_table(self, table: pa.Table) -> None:
        if self._jsonl is not None:
            self.write_records(table.to_pylist())
            return
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
        elif table.schema != self._parquet.schema:
            try:
                table = table.cast(self._parquet.schema)
            except (pa.ArrowInvalid, ValueError, TypeError) as exc:
                raise ImportDataError(
                    f"{self.path}: the input's columns change type along the file ({exc}); "
                    "write JSONL instead"
                ) from None
        self._parquet.write_table(table)

    def commit(self) -> None:
        self.close()
        if self.fmt == "parquet" and self._parquet is None:
            pq.write_table(pa.table({}), self.tmp)
        os.replace(self.tmp, self.path)
        remember_written(self.path)

    def close(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
        if self._parquet is not None:
            self._parquet.close()

    def abort(self) -> None:
        self.close()
        self.tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- the command


def _resolver(accounts: Path, root: Path | None, recipient: str | None) -> MentionResolver:
    fmt = _format_of(accounts, None, "--accounts")
    if not accounts.is_file():
        raise UsageError(f"--accounts {accounts}: no such file")
    if fmt == "parquet":
        table = pq.read_table(accounts)
    else:
        rows = [r for batch in _jsonl_batches(accounts, "handle", 65536) for r in batch]
        table = pa.Table.from_pylist(rows)
    for column in ("id", "handle"):
        if column not in table.column_names:
            raise ImportDataError(f"{accounts}: no column {column!r}")
    secret = open_workspace(root).secret()
    return MentionResolver.from_table(table, Pseudonymiser(secret, recipient))


@handle_errors
def scrub_command(
    in_path: Annotated[Path, typer.Argument(metavar="IN", help="JSONL or Parquet input.")],
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write the result.")],
    text_column: Annotated[
        str, typer.Option("--text-column", "-c", help="The column holding the text.")
    ] = "text",
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="jsonl or parquet, for both files [default: from each file's extension].",
            show_default=False,
        ),
    ] = None,
    accounts: Annotated[
        Path | None,
        typer.Option(
            help="Platform accounts (JSONL or Parquet with id and handle): their mentions "
            "become the account's pseudonym, from the workspace secret.",
        ),
    ] = None,
    recipient: Annotated[
        str | None, typer.Option(help="Pseudonyms for this recipient (with --accounts).")
    ] = None,
    workspace: WorkspaceOption = None,
    batch_size: Annotated[int, typer.Option(help="Rows scrubbed at a time.")] = 65536,
) -> None:
    """Replace personal data in the text column of IN and write OUT, keeping every other
    column and adding `pii`, the list of the types replaced in each row.

    Handles become `@<USER>` (or, with `--accounts`, `@` + the account's pseudonym), and
    URLs, e-mails, phone numbers, payment cards, IBANs and IP addresses their placeholder
    (`<URL>`, `<EMAIL>`, `<PHONE>`, `<CARD>`, `<IBAN>`, `<IP>`). Hashtags and cashtags stay.

    Example: `consentry scrub posts.jsonl posts.scrubbed.parquet --text-column body`
    """
    _run(in_path, out_path, text_column, fmt, accounts, recipient, workspace, batch_size)


def _run(
    in_path: Path,
    out_path: Path,
    text_column: str,
    fmt: str | None,
    accounts: Path | None,
    recipient: str | None,
    workspace: Path | None,
    batch_size: int,
) -> None:
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if recipient is not None and accounts is None:
        raise UsageError("--recipient needs --accounts (pseudonyms are only for mentions)")
    check_output_file(out_path, role="OUT")
    in_fmt = _format_of(in_path, fmt, "IN")
    out_fmt = _format_of(out_path, fmt, "OUT")
    if not in_path.is_file():
        raise UsageError(f"IN {in_path}: no such file")
    if in_path.resolve() == out_path.resolve():
        raise UsageError("OUT must differ from IN")
    mentions = _resolver(accounts, workspace, recipient) if accounts is not None else None

    started = time.perf_counter()
    rows = 0
    counts = dict.fromkeys(REPLACED_TYPES, 0)
    writer = _Writer(out_path, out_fmt)
    try:
        if in_fmt == "jsonl":
            for records in _jsonl_batches(in_path, text_column, batch_size):
                texts = pa.array([r[text_column] for r in records], pa.string())
                result = scrub_array(texts, mentions=mentions)
                for r, text, pii in zip(
                    records, result.text.to_pylist(), result.pii.to_pylist(), strict=True
                ):
                    r[text_column] = text
                    r["pii"] = pii
                writer.write_records(records)
                rows += len(records)
                for t, n in result.counts.items():
                    counts[t] += n
        else:
            for table in _parquet_batches(in_path, text_column, batch_size):
                result = scrub_array(table.column(text_column), mentions=mentions)
                i = table.schema.get_field_index(text_column)
                table = table.set_column(i, text_column, result.text)
                if "pii" in table.column_names:
                    table = table.drop_columns(["pii"])
                table = table.append_column("pii", result.pii)
                writer.write_table(table)
                rows += table.num_rows
                for t, n in result.counts.items():
                    counts[t] += n
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    elapsed = time.perf_counter() - started
    replaced = ", ".join(f"{t} {n:,}" for t, n in counts.items() if n) or "nothing"
    rate = f", {rows / elapsed:,.0f} rows/s" if elapsed > 0 and rows else ""
    console.print(f"Scrubbed {rows:,} rows into {out_path} ({replaced} replaced{rate})")
