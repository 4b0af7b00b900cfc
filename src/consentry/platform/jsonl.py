"""Bulk reading of JSONL and Parquet files into an ``Ingest``: the vectorised path.

JSONL is read in blocks of whole lines (``BLOCK_BYTES``); each block is parsed by
``pyarrow.json`` straight into the kind's input schema, using every core. A block that does not
parse cleanly — invalid UTF-8, a broken line, a value of the wrong JSON type, two objects on one
line — is handed line by line to the per-record path instead, so that the bad line is rejected
with its own reason and its neighbours are imported: a bad line never takes its block with it.
Blank lines are skipped by both paths.

Parquet is read in row batches; columns of the wrong type are refused row by row (see
``validation.conform``), invalid UTF-8 row by row.

Why pyarrow's JSON reader and not another parser: measured on the demo's ``content.jsonl``
(64 MB, 241k posts, one thread each, parsed into ``input_schema`` columns; this 2-core machine,
busy) pyarrow did ~535-605k posts per CPU-second, polars' ``read_ndjson`` ~430k, msgspec into
Structs then Arrow ~180k (building Python objects, then Arrow arrays from them, is most of it),
orjson ~200k, pysimdjson ~155k. DuckDB's ``read_json`` was faster (~860k), but DuckDB and polars
both turn a JSON number or boolean in a string field into text (``"id": 123`` reads as
``"123"``), which would lose the "ids must be strings" / "wrong type" refusal that pyarrow's
typed reader gives us for free (it fails the block, the per-line path then names the field);
catching that afterwards would need a second scan of the bytes, and DuckDB is a large dependency
for one reader. So parsing stays on pyarrow, and the gains are in what follows it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from consentry.platform.fields import RecordKind, input_schema
from consentry.platform.ingest import Ingest
from consentry.platform.jsontext import JsonTextError, loads
from consentry.platform.quarantine import Rejection, raw_text

BLOCK_BYTES: Final = 16 * 1024 * 1024
#: pyarrow's own chunking inside a block (its unit of parallelism); a line longer than this
#: sends its block to the per-record path, which handles any length.
PARSE_CHUNK: Final = 4 * 1024 * 1024
#: A line longer than this is refused without being held in memory whole.
MAX_LINE_BYTES: Final = 64 * 1024 * 1024
PARQUET_BATCH: Final = 100_000
#: One thread per block: the import's goal is posts per CPU-second, and pyarrow's threaded
#: reader costs as much CPU or a little more (its chunks are handed between threads) and holds
#: several chunks in memory at once (~30-50 MB more peak RSS at 1M posts); on a 2-core machine
#: shared with other work the second core is rarely idle anyway.
PARSE_THREADS = False

Progress = Callable[[int], None]
#: ``null`` then only blanks to the end of the line: in valid JSONL only a line that is just
#: ``null`` (an object line ends with ``}``). A regex led by a literal is a fast scan.
_NULL_END: Final = re.compile(rb"null[ \t\r]*(?:\n|$)")


@dataclass(frozen=True, slots=True)
class Block:
    """Whole lines of a file: ``data`` starts at line ``first_line`` (1-based).

    ``data`` is a view into ``read_blocks``' buffer, valid until the next block is asked for
    (the buffer is reused: no fresh 16 MB of memory, hence no page faults, per block).
    """

    data: memoryview
    first_line: int
    lines: int  # lines in ``data`` (the last one may lack its newline)
    ends: npt.NDArray[np.int64]  # offset of each newline in ``data``

    def text(self) -> bytes:
        return bytes(self.data)


def read_blocks(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[Block | Rejection]:
    """Blocks of whole lines; a line over ``MAX_LINE_BYTES`` comes out as a ``Rejection``."""
    line = 1
    buf = bytearray(block_bytes)
    held = 0  # bytes at the front of ``buf``: a line whose end was not read yet
    skipping = False  # inside an over-long line, dropping bytes up to its end
    with path.open("rb") as fh:
        while True:
            if held == len(buf):  # one line fills the buffer
                if held > MAX_LINE_BYTES:
                    reason = f"line longer than {MAX_LINE_BYTES:,} bytes"
                    yield Rejection(path.name, line, None, reason, raw_text(bytes(buf[:200])))
                    held, skipping = 0, True
                else:  # a bigger buffer (a new one: views of the old one may still exist)
                    bigger = bytearray(2 * len(buf))
                    bigger[:held] = buf[:held]
                    buf = bigger
            with memoryview(buf) as view:
                n = fh.readinto(view[held:])
            if not n:
                break
            end = held + n
            if skipping:
                newline = buf.find(b"\n", 0, end)
                if newline < 0:
                    held = 0
                    continue
                rest = end - newline - 1
                buf[:rest] = buf[newline + 1 : end]
                end, skipping = rest, False
                line += 1
            cut = buf.rfind(b"\n", 0, end) + 1
            if cut == 0:
                held = end
                continue
            view = memoryview(buf)[:cut]
            ends = _line_ends(view)
            yield Block(view, line, len(ends), ends)
            line += len(ends)
            held = end - cut
            buf[:held] = buf[cut:end]  # the unfinished line moves to the front
    if held and not skipping:
        data = memoryview(buf)[:held]
        yield Block(data, line, 1, np.empty(0, dtype=np.int64))


def _line_ends(data: memoryview) -> npt.NDArray[np.int64]:
    # One numpy pass finds the newlines; ``_parse`` reuses them for its check of ``null`` lines.
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)


def _may_hold_null_line(block: Block) -> bool:
    """Whether a line may be only ``null`` (then blanks): certainly not when every line ends
    with ``}``, as JSON object lines do — a check much cheaper than the regex scan."""
    data = np.frombuffer(block.data, dtype=np.uint8)
    if len(data) == 0:
        return False
    ends = block.ends[block.ends > 0]
    last_ok = data[-1] in (0x0A, 0x7D)  # the last line (without newline) ends with ``}`` too
    if last_ok and bool((data[ends - 1] == 0x7D).all()):
        return False
    return _NULL_END.search(block.data) is not None


def _row_lines(block: Block, rows: int) -> np.ndarray | None:
    """Line number of each parsed row, or None when rows and lines do not pair up."""
    if rows == block.lines:
        return np.arange(block.first_line, block.first_line + rows, dtype=np.int64)
    # Blank lines are skipped by the parser: number the non-blank ones.
    numbered = [
        block.first_line + i for i, text in enumerate(block.text().split(b"\n")) if text.strip()
    ]
    if len(numbered) != rows:
        return None  # e.g. two objects on one line: let the per-record path say so
    return np.asarray(numbered, dtype=np.int64)


def _parse(block: Block, kind: RecordKind) -> tuple[pa.Table, np.ndarray] | None:
    if _may_hold_null_line(block):
        # pyarrow 26's JSON reader crashes the process (segfault) on a line holding only
        # `null` when it starts one of its chunks: such blocks go line by line.
        return None
    try:
        table = pj.read_json(
            pa.BufferReader(pa.py_buffer(block.data)),
            read_options=pj.ReadOptions(use_threads=PARSE_THREADS, block_size=PARSE_CHUNK),
            parse_options=pj.ParseOptions(
                explicit_schema=input_schema(kind), unexpected_field_behavior="ignore"
            ),
        )
        # The parser does not check UTF-8; a full validation of what it read does (and costs
        # a tenth of decoding the block). Bytes outside the fields read are not looked at.
        table.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    lines = _row_lines(block, table.num_rows)
    if lines is None:
        return None
    return table, lines


_ADD = {
    RecordKind.ACCOUNT: Ingest.account,
    RecordKind.CONTENT: Ingest.content,
    RecordKind.INTERACTION: Ingest.interaction,
    RecordKind.DECISION: Ingest.decision,
}


def _line_by_line(ingest: Ingest, block: Block, kind: RecordKind, file: str) -> None:
    add = _ADD[kind]
    for i, data in enumerate(block.text().split(b"\n")):
        line = block.first_line + i
        # Undecodable bytes become lone surrogates: refused by ``check_record`` when they sit in
        # a field that is imported ("invalid UTF-8"), ignored elsewhere — as on the fast path.
        text = data.decode("utf-8", errors="surrogateescape")
        if not text.strip():
            continue
        try:
            record = loads(text)
        except JsonTextError as exc:
            where = f" (column {exc.column})" if exc.column else ""
            reason = f"broken JSON: {exc.reason}{where}"
            ingest.reject(Rejection(file, line, None, reason, raw_text(text), kind.value))
            continue
        add(ingest, record, file=file, line=line, raw=text)
    ingest.flush()  # stage them now, before the rows of the next block


def import_jsonl(
    ingest: Ingest,
    path: Path,
    kind: RecordKind,
    *,
    file: str,
    progress: Progress | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> None:
    """Every line of a JSONL file, as records of ``kind``."""
    for block in read_blocks(path, block_bytes):
        if isinstance(block, Rejection):
            ingest.reject(Rejection(file, block.line, None, block.reason, block.raw, kind.value))
            continue
        parsed = _parse(block, kind)
        if parsed is None:
            _line_by_line(ingest, block, kind, file)
        else:
            table, lines = parsed
            split = _Lines(block)

            def raw(i: int, split: _Lines = split, lines: np.ndarray = lines) -> str | None:
                return split.raw(int(lines[i]))

            ingest.add_batch(kind, table, file=file, lines=lines, raw=raw)
        if progress:
            progress(len(block.data))


class _Lines:
    """The text of a block's lines, split only when a rejected row's text is asked for."""

    def __init__(self, block: Block) -> None:
        self.block = block
        self._lines: list[bytes] | None = None

    def raw(self, line: int) -> str | None:
        if self._lines is None:
            self._lines = self.block.text().split(b"\n")
        return raw_text(self._lines[int(line) - self.block.first_line])


def _bad_utf8_rows(table: pa.Table) -> np.ndarray:
    """Rows holding a string that is not valid UTF-8 (Parquet does not promise it)."""
    bad = np.zeros(table.num_rows, dtype=np.bool_)
    try:
        table.validate(full=True)
        return bad
    except pa.ArrowInvalid:
        pass
    for column in table.columns:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        try:
            column.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        values = column.cast(pa.binary() if pa.types.is_string(column.type) else pa.large_binary())
        for i, value in enumerate(values.to_pylist()):
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    bad[i] = True
    return bad


def import_parquet(
    ingest: Ingest, path: Path, kind: RecordKind, *, file: str, progress: Progress | None = None
) -> None:
    """Every row of a Parquet file (``line`` = 1-based row number), as records of ``kind``."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        ingest.reject(
            Rejection(
                file,
                None,
                None,
                f"not a readable Parquet file: {exc}",
                None,
                kind.value,
                incomplete=True,
            )
        )
        return
    size = path.stat().st_size
    total = max(parquet.metadata.num_rows, 1)
    first = 1
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
        table = pa.Table.from_batches([batch])
        n = table.num_rows
        bad = _bad_utf8_rows(table)
        for i in np.nonzero(bad)[0]:
            row = (
                table.slice(int(i), 1)
                .cast(pa.schema([pa.field(f.name, _binary_of(f.type)) for f in table.schema]))
                .to_pylist()[0]
            )
            ingest.reject(
                Rejection(file, first + int(i), None, "invalid UTF-8", _raw_row(row), kind.value)
            )
        lines = np.arange(first, first + n, dtype=np.int64)
        if bad.any():
            keep = pa.array(np.nonzero(~bad)[0])
            table, lines = table.take(keep), lines[~bad]

        def raw(i: int, rows: pa.Table = table) -> str | None:
            return _raw_row(rows.slice(i, 1).to_pylist()[0])

        ingest.add_batch(kind, table, file=file, lines=lines, raw=raw, foreign=True)
        first += n
        if progress:
            progress(int(size * n / total))


def _binary_of(t: pa.DataType) -> pa.DataType:
    if pa.types.is_string(t):
        return pa.binary()
    if pa.types.is_large_string(t):
        return pa.large_binary()
    return t


def _raw_row(row: dict[str, object]) -> str:
    def default(value: object) -> str:
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="backslashreplace")
        return str(value)

    return json.dumps(row, ensure_ascii=False, default=default)
