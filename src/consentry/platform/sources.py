"""What the archive importers (X, Mastodon, Reddit) share: reading their containers, not their data.

- ``ArchiveTree``: a zip file or an extracted folder, read the same way by member name.
- ``JsonStream``: the elements of a (possibly huge) JSON array, one at a time, each with the line it
  starts on, without loading the file; an X archive's ``window.YTD.<name>.partN = [...]`` wrapper
  is skipped as text and the array parsed as data (never executed).
- ``iter_lines``: the lines of a plain or zstandard-compressed file (Pushshift dumps), streaming.
- time helpers (RFC 3339 out), the ``ParsedRecord`` the parsers yield, and ``feed``, the thin
  adapter from a parser's records to the ``Ingest`` seam.

Parsers are pure generators of ``ParsedRecord | Rejection``: they know formats, not workspaces, so
they are tested without one. Input that cannot be read at all (not a zip nor a folder, no data in
the expected place) raises ``ImportDataError`` naming the path; a row that cannot be mapped becomes
a ``Rejection`` naming file, line, field and reason, and the rest of the input is still read.
"""

from __future__ import annotations

import codecs
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol

import zstandard

from consentry.errors import ImportDataError
from consentry.platform.ingest import DEFAULT_MAX_TEXT_CHARS, ImportReport, Ingest
from consentry.platform.quarantine import Rejection
from consentry.platform.report import ImportWarning

if TYPE_CHECKING:
    from consentry.workspace import Workspace

RecordKind = Literal["account", "content", "interaction"]


class ParsedRecord(NamedTuple):
    """One canonical record a parser produced, with where it came from (for quarantine/errors)."""

    kind: RecordKind
    record: dict[str, Any]
    file: str
    line: int | None


Parsed = ParsedRecord | Rejection | ImportWarning
Progress = Callable[[int], None]


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class CountingReader:
    """A binary stream that tells ``progress`` how many bytes were read (for progress bars)."""

    def __init__(self, raw: IO[bytes], progress: Progress | None = None) -> None:
        self._raw = raw
        self._progress = progress

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        if data and self._progress is not None:
            self._progress(len(data))
        return data

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> CountingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RowError(Exception):
    """One row cannot be mapped: ``field`` (a path into the source row) and ``reason``.

    Raised by a parser's mapping functions and turned into a ``Rejection`` with file and line.
    """

    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


CHUNK_SIZE: Final = 1 << 20
#: The largest single array element read (a tweet is a few kB; a long DM conversation a few MB).
MAX_ELEMENT_CHARS: Final = 64 << 20


# ---------------------------------------------------------------------------------------------
# Containers


class ArchiveTree:
    """A zip file or a folder, addressed by POSIX member names relative to its root.

    Members are opened by name and streamed; nothing is extracted, so a hostile zip cannot write
    outside anything (no zip-slip) and a big one is never inflated on disk.
    """

    def __init__(
        self,
        path: Path,
        zf: zipfile.ZipFile | None,
        names: list[str],
        progress: Progress | None = None,
    ) -> None:
        self.path = path
        self._zip = zf
        self.names = names
        self.progress = progress

    @classmethod
    def open(cls, path: Path, *, what: str, progress: Progress | None = None) -> ArchiveTree:
        """Open ``path`` (a zip or a folder), or raise ``ImportDataError`` naming it as not
        ``what``. ``progress(n)`` is told of the ``n`` bytes read from each member."""
        if path.is_dir():
            names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
            return cls(path, None, names, progress)
        if not path.exists():
            raise ImportDataError(f"{path}: no such file or folder")
        if not zipfile.is_zipfile(path):
            raise ImportDataError(f"{path}: not {what} (neither a zip file nor a folder)")
        try:
            zf = zipfile.ZipFile(path)
            names = sorted(i.filename for i in zf.infolist() if not i.is_dir())
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportDataError(f"{path}: not a readable zip file: {exc}") from None
        return cls(path, zf, names, progress)

    def open_member(self, name: str) -> CountingReader:
        """The member's bytes (uncompressed), counted for the progress bar."""
        if self._zip is not None:
            try:
                return CountingReader(self._zip.open(name), self.progress)
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                raise ImportDataError(f"{self.display(name)}: cannot be read: {exc}") from None
        return CountingReader((self.path / name).open("rb"), self.progress)

    def size(self, names: Iterable[str]) -> int:
        """Bytes (uncompressed) that reading ``names`` will report to ``progress``."""
        if self._zip is not None:
            return sum(self._zip.getinfo(n).file_size for n in names)
        return sum((self.path / n).stat().st_size for n in names)

    def display(self, name: str) -> str:
        """A member as error messages name it (``archive.zip/data/x.js``). Records and
        rejections name the member alone (``data/x.js``), as the canonical importer names
        files relative to its folder."""
        return f"{self.path}/{name}"

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> ArchiveTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def find_root(names: Iterable[str], anchors: re.Pattern[str]) -> str | None:
    """The shortest prefix under which a member matches ``anchors`` (``""`` = the top level).

    Archives are often zipped with one enclosing folder (``twitter-2024-01-01-abc/data/…``), so
    the data root is found rather than assumed.
    """
    best: str | None = None
    for name in names:
        m = anchors.search(name)
        if m is None:
            continue
        prefix = name[: m.start()]
        if best is None or len(prefix) < len(best):
            best = prefix
    return best


# ---------------------------------------------------------------------------------------------
# Streaming JSON

_WS: Final = frozenset(" \t\r\n")
_BAD_UTF8: Final = re.compile("[\udc80-\udcff]")
_DECODER: Final = json.JSONDecoder()


class JsonStreamError(Exception):
    """The JSON text is broken at ``line``: nothing after that point can be trusted."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")


@dataclass(frozen=True, slots=True)
class JsonItem:
    """One array element. ``utf8_ok`` is False when its bytes were not valid UTF-8 (then the value
    holds the undecodable bytes as lone surrogates and must be rejected, not imported)."""

    line: int
    value: Any
    utf8_ok: bool


class JsonStream:
    """Incremental reader of one JSON document from a binary stream.

    The buffer holds at most a chunk plus the element being decoded, so a 2 GB ``tweets.js`` or
    ``outbox.json`` is read in bounded memory. Invalid UTF-8 is decoded with ``surrogateescape``
    so one bad element is rejected alone instead of failing the whole file.
    """

    def __init__(
        self,
        raw: Readable,
        *,
        chunk_size: int = CHUNK_SIZE,
        max_element: int = MAX_ELEMENT_CHARS,
    ) -> None:
        self._raw = raw
        self._chunk = chunk_size
        self._max_element = max_element
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._buf = ""
        self._pos = 0
        self._eof = False
        # Line bookkeeping: the line number at buffer offset ``_counted`` (kept monotonic so that
        # counting newlines stays linear in the input).
        self._line = 1
        self._counted = 0
        self._first = True

    # -- buffer ---------------------------------------------------------------------------------

    def _fill(self, at_least: int = 0) -> bool:
        """Read more input; False at end of input."""
        if self._eof:
            return False
        if self._pos > len(self._buf) // 2:
            self._line += self._buf.count("\n", self._counted, self._pos)
            self._buf = self._buf[self._pos :]
            self._counted = 0
            self._pos = 0
        data = self._raw.read(max(self._chunk, at_least))
        if not data:
            self._eof = True
            self._buf += self._decoder.decode(b"", final=True)
            return False
        text = self._decoder.decode(data)
        if self._first:
            self._first = False
            text = text.removeprefix("\ufeff")  # a BOM is not part of the document
        self._buf += text
        return True

    def line_at(self, pos: int) -> int:
        if pos < self._counted:  # only for error positions behind the mark
            return self._line - self._buf.count("\n", pos, self._counted)
        self._line += self._buf.count("\n", self._counted, pos)
        self._counted = pos
        return self._line

    def _skip_ws(self) -> None:
        while True:
            buf, n = self._buf, len(self._buf)
            pos = self._pos
            while pos < n and buf[pos] in _WS:
                pos += 1
            self._pos = pos
            if pos < n or not self._fill():
                return

    def peek(self) -> str:
        """The next non-blank character, or ``""`` at end of input."""
        self._skip_ws()
        return self._buf[self._pos] if self._pos < len(self._buf) else ""

    def expect(self, char: str, what: str) -> None:
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "end of file"
            raise JsonStreamError(self.line_at(self._pos), f"expected {what}, found {shown}")
        self._pos += 1

    def skip_prefix(self, pattern: re.Pattern[str]) -> bool:
        """Consume a leading text matching ``pattern`` (e.g. the ``window.YTD…=`` assignment)."""
        while len(self._buf) - self._pos < 4096 and self._fill():
            pass
        m = pattern.match(self._buf, self._pos)
        if m is None:
            return False
        self._pos = m.end()
        return True

    # -- values ---------------------------------------------------------------------------------

    def value(self) -> JsonItem:
        """Decode the next value (any JSON value), reading more input until it is complete."""
        self._skip_ws()
        start = self._pos
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                # Incomplete because the buffer ends inside the value: read more (doubling, so a
                # huge element costs linear time) and try again; at end of input it is broken.
                # The cap keeps memory bounded when the JSON is broken rather than cut.
                if len(self._buf) - self._pos <= self._max_element and self._fill(
                    at_least=len(self._buf)
                ):
                    start = self._pos
                    continue
                if len(self._buf) - self._pos > self._max_element:
                    raise JsonStreamError(
                        self.line_at(start),
                        f"invalid JSON, or one element over {self._max_element:,} characters",
                    ) from None
                raise JsonStreamError(self.line_at(exc.pos), f"invalid JSON: {exc.msg}") from None
            # A number cut by the buffer edge would decode "successfully": make sure it is whole.
            if end == len(self._buf) and self._fill():
                start = self._pos
                continue
            line = self.line_at(start)
            ok = _BAD_UTF8.search(self._buf, start, end) is None
            self._pos = end
            return JsonItem(line, value, ok)

    def items(self) -> Iterator[JsonItem]:
        """The elements of the array that starts here."""
        self.expect("[", "'[' (a JSON array)")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.value()
            char = self.peek()
            if char == "]":
                self._pos += 1
                return
            self.expect(",", "',' or ']' after an array element")

    def members(self) -> Iterator[tuple[str, int]]:
        """The keys of the object that starts here; the caller must consume each key's value
        (``value()`` or ``items()``) before asking for the next key."""
        self.expect("{", "'{' (a JSON object)")
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key.value, str):
                raise JsonStreamError(key.line, "object key is not a string")
            self.expect(":", "':' after an object key")
            yield key.value, key.line
            char = self.peek()
            if char == "}":
                self._pos += 1
                return
            self.expect(",", "',' or '}' after an object member")

    def end(self) -> None:
        """Only blanks (and the ``;`` a JS assignment may end with) may follow the document."""
        if self.peek() == ";":
            self._pos += 1
        found = self.peek()
        if found:
            raise JsonStreamError(
                self.line_at(self._pos), f"unexpected text after the JSON: {found!r}"
            )


def read_json_document(raw: Readable, file: str) -> Any:
    """A small JSON file (``actor.json``, ``account.js`` body …) read whole, or ImportDataError."""
    try:
        data = raw.read()
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ImportDataError(f"{file}: not valid UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ImportDataError(f"{file}: line {exc.lineno}: invalid JSON: {exc.msg}") from None


def raw_json(value: Any) -> str:
    """The row as text for the quarantine (escaped so undecodable bytes survive as ``\\udcXX``)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
    return json.dumps(value) if has_lone_surrogate(text) else text


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` cannot be stored as UTF-8 (a ``\\udXXX`` escape on its own, or bytes
    that were not UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# ---------------------------------------------------------------------------------------------
# Line-oriented input (Pushshift NDJSON, plain or zstandard)

ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
#: No Reddit row comes near this; a longer "line" is a file that is not NDJSON.
MAX_LINE_BYTES: Final = 16 << 20
#: Pushshift dumps are compressed with a 2 GiB window (``--long=31``); the library default refuses.
ZSTD_MAX_WINDOW: Final = 2**31


class TruncatedInputError(Exception):
    """The compressed stream ended in the middle of a frame, or is corrupt."""


def _zstd_chunks(raw: Readable) -> Iterator[bytes]:
    dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    obj = dctx.decompressobj()
    in_frame = False
    while True:
        data = raw.read(CHUNK_SIZE)
        if not data:
            break
        while data:
            try:
                out = obj.decompress(data)
            except zstandard.ZstdError as exc:
                raise TruncatedInputError(f"corrupt zstandard data: {exc}") from None
            in_frame = True
            if out:
                yield out
            if obj.eof:  # a file may hold several frames back to back
                data = obj.unused_data
                obj = dctx.decompressobj()
                in_frame = False
            else:
                data = b""
    if in_frame:
        raise TruncatedInputError(
            "the zstandard stream ends in the middle of a frame (truncated file)"
        )


def _plain_chunks(raw: Readable, head: bytes) -> Iterator[bytes]:
    if head:
        yield head
    while data := raw.read(CHUNK_SIZE):
        yield data


def iter_chunks(raw: Readable) -> Iterator[bytes]:
    """The bytes of a plain or zstandard stream, decompressed, in chunks.

    Compression is recognised by its magic number, not the file name. Raises
    ``TruncatedInputError`` after the last good chunk when a compressed stream is cut or corrupt.
    """
    head = raw.read(4)
    if head == ZSTD_MAGIC:
        return _zstd_chunks(_Prepend(head, raw))
    return _plain_chunks(raw, head)


def iter_lines(
    raw: Readable, *, max_line: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | None]]:
    """``(line number from 1, line bytes without the newline)`` of a plain or ``.zst`` stream.

    A line longer than ``max_line`` bytes comes as ``None`` (it is skipped without being held in
    memory: a file with no newline at all must not be loaded whole). Raises
    ``TruncatedInputError`` after the last complete line when a compressed stream is cut.
    """
    pending: list[bytes] = []
    size = 0
    number = 0
    for chunk in iter_chunks(raw):
        parts = chunk.split(b"\n")
        if len(parts) > 1:
            number += 1
            first = parts[0]
            if size + len(first) > max_line:
                yield number, None
            else:
                yield number, b"".join((*pending, first)) if pending else first
            for line in parts[1:-1]:
                number += 1
                yield number, (line if len(line) <= max_line else None)
            pending, size = [], 0
        tail = parts[-1]
        if size <= max_line:  # past the limit, only the size is counted
            pending.append(tail)
        size += len(tail)
    if size:
        yield number + 1, (b"".join(pending) if size <= max_line else None)


class _Prepend:
    """A read-only stream that returns ``head`` before the rest of ``raw``."""

    def __init__(self, head: bytes, raw: Readable) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head + self._raw.read(max(size - len(head), 0) if size >= 0 else -1)
        return self._raw.read(size)


# ---------------------------------------------------------------------------------------------
# Times


def rfc3339(moment: datetime) -> str:
    """UTC, ``Z`` suffix, fractions only when present: the canonical contract's time format."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def parse_iso_time(text: object) -> datetime:
    """An ISO 8601 / RFC 3339 time with offset (``Z`` allowed); ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"not a time string: {text!r}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without a UTC offset: {text!r}")
    return moment


def from_epoch(value: object) -> datetime:
    """Seconds since the epoch as int, float or numeric string (Pushshift uses all three)."""
    if isinstance(value, bool):
        raise ValueError(f"not an epoch time: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            raise ValueError(f"not an epoch time: {value!r}") from None
    else:
        raise ValueError(f"not an epoch time: {value!r}")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"epoch time out of range: {value!r}") from None


# ---------------------------------------------------------------------------------------------
# Into the workspace


def feed(
    workspace: Workspace,
    parsed: Iterable[Parsed],
    *,
    source: str,
    strict: bool,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
) -> ImportReport:
    """Pass a parser's records and rejections to the ``Ingest`` seam and return its report."""
    with Ingest(workspace, source=source, strict=strict, max_text_chars=max_text_chars) as ingest:
        for item in parsed:
            if isinstance(item, Rejection):
                ingest.reject(item)
            elif isinstance(item, ImportWarning):
                ingest.warn(item)
            elif item.kind == "account":
                ingest.account(item.record, file=item.file, line=item.line)
            elif item.kind == "content":
                ingest.content(item.record, file=item.file, line=item.line)
            else:
                ingest.interaction(item.record, file=item.file, line=item.line)
        return ingest.finish()
