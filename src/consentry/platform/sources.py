"""What the archive importers (X, Mastodon, Reddit) share: reading their containers, not their data.

- ``ArchiveTree``: a zip file or an extracted folder, read the same way by member name; only
  regular files inside it are read: a symbolic link, or a zip entry that is one or leaves the
  archive with ``..``, is refused (``UnsafeMemberError``).
- ``JsonStream``: the elements of a (possibly huge) JSON array, one at a time, each with the line it
  starts on, without loading the file; an X archive's ``window.YTD.<name>.partN = [...]`` wrapper
  is skipped as text and the array parsed as data (never executed). An element nested too deep
  to decode is skipped by matching brackets and refused alone.
- The lines of a plain or zstandard-compressed file (Pushshift dumps) are read by
  ``consentry.platform.lines`` (its names are still importable from here).
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
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Final, Literal, NamedTuple

from consentry.errors import ImportDataError
from consentry.platform.fields import RecordKind as QKind
from consentry.platform.ingest import DEFAULT_MAX_TEXT_CHARS, ImportReport, Ingest
from consentry.platform.jsontext import TOO_DEEP, JsonTextError, loads

# The line-oriented input moved to ``consentry.platform.lines``; importers and tests that name
# it here still find it.
from consentry.platform.lines import CHUNK_SIZE as CHUNK_SIZE
from consentry.platform.lines import MAX_LINE_BYTES as MAX_LINE_BYTES
from consentry.platform.lines import Readable
from consentry.platform.lines import TruncatedInputError as TruncatedInputError
from consentry.platform.lines import iter_chunks as iter_chunks
from consentry.platform.lines import iter_lines as iter_lines
from consentry.platform.quarantine import Rejection, Withheld, record_ids
from consentry.platform.report import ImportWarning

if TYPE_CHECKING:
    from consentry.workspace import Workspace

RecordKind = Literal["account", "content", "interaction"]


class ParsedRecord(NamedTuple):
    """One canonical record a parser produced, with where it came from (for quarantine/errors).

    ``third_party``: the record is someone else's words than the archive owner's (a message the
    other person of a conversation sent); refused, it is quarantined with its ids only."""

    kind: RecordKind
    record: dict[str, Any]
    file: str
    line: int | None
    third_party: bool = False


Parsed = ParsedRecord | Rejection | ImportWarning
Progress = Callable[[int], None]


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


#: The largest single array element read (a tweet is a few kB; a long DM conversation a few MB).
MAX_ELEMENT_CHARS: Final = 64 << 20


# ---------------------------------------------------------------------------------------------
# Containers


class UnsafeMemberError(ImportDataError, OSError):
    """A member that is not a regular file inside its archive (a symbolic link, a zip entry
    naming ``..``): never read. An ``OSError`` too, so that an importer rejects it with the
    reason, as it does a member that cannot be read, and goes on."""


def unsafe_reason(folder: Path, name: str) -> str | None:
    """Why ``folder/name`` must not be read, or None when it is a regular file inside
    ``folder`` reached through no symbolic link (a link could make an archive's
    ``data/tweets.js`` someone else's file, imported under the archive owner's account)."""
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
        return f"{name}: the path leaves the archive folder; only files inside it are read"
    path = folder
    for part in parts:
        path = path / part
        try:
            st = path.lstat()
        except OSError as exc:
            return f"{name}: cannot be read: {exc.strerror or exc}"
        if stat.S_ISLNK(st.st_mode):
            try:
                target = str(path.readlink())
            except OSError:
                target = "?"
            return (
                f"{name}: a symbolic link (to {target}); only regular files inside the archive "
                "folder are read"
            )
    if not stat.S_ISREG(st.st_mode):
        return f"{name}: not a regular file; only regular files are read"
    return None


def _zip_unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        return f"{name}: the entry's path leaves the archive; only files inside it are read"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"{name}: a symbolic link; only regular files inside the archive are read"
    return None


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
        #: Zip entries never read, with the reason (folder members are checked when opened).
        self.unsafe: dict[str, str] = {}

    @classmethod
    def open(cls, path: Path, *, what: str, progress: Progress | None = None) -> ArchiveTree:
        """Open ``path`` (a zip or a folder), or raise ``ImportDataError`` naming it as not
        ``what``. ``progress(n)`` is told of the ``n`` bytes read from each member."""
        if path.is_dir():
            return cls(path, None, _folder_members(path), progress)
        if not path.exists():
            raise ImportDataError(f"{path}: no such file or folder")
        if not zipfile.is_zipfile(path):
            raise ImportDataError(f"{path}: not {what} (neither a zip file nor a folder)")
        try:
            zf = zipfile.ZipFile(path)
            infos = [i for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportDataError(f"{path}: not a readable zip file: {exc}") from None
        tree = cls(path, zf, sorted(i.filename for i in infos), progress)
        tree.unsafe = {i.filename: why for i in infos if (why := _zip_unsafe(i)) is not None}
        return tree

    def refusal(self, name: str) -> str | None:
        """Why member ``name`` is never read (a link, a path out of the archive), or None."""
        if self._zip is not None:
            return self.unsafe.get(name)
        return unsafe_reason(self.path, name)

    def open_member(self, name: str) -> CountingReader:
        """The member's bytes (uncompressed), counted for the progress bar; ``UnsafeMemberError``
        for a member that is not a regular file inside the archive."""
        refusal = self.refusal(name)
        if refusal is not None:
            raise UnsafeMemberError(refusal)
        if self._zip is not None:
            try:
                return CountingReader(self._zip.open(name), self.progress)
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                raise ImportDataError(f"{self.display(name)}: cannot be read: {exc}") from None
        # O_NOFOLLOW: a file swapped for a link after the check above is not followed either.
        fd = os.open(self.path / name, os.O_RDONLY | os.O_NOFOLLOW)
        return CountingReader(os.fdopen(fd, "rb"), self.progress)

    def size(self, names: Iterable[str]) -> int:
        """Bytes (uncompressed) that reading ``names`` will report to ``progress``."""
        safe = [n for n in names if self.refusal(n) is None]
        if self._zip is not None:
            return sum(self._zip.getinfo(n).file_size for n in safe)
        return sum((self.path / n).stat().st_size for n in safe)

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


def _folder_members(folder: Path) -> list[str]:
    """Every file below ``folder``, links included (so that they are reported, not silently
    left out), without entering linked folders."""
    names = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        rel = Path(top).relative_to(folder)
        linked = [d for d in dirs if (Path(top) / d).is_symlink()]
        names += [(rel / f).as_posix() for f in (*files, *linked)]
    return sorted(names)


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
_BRACKET: Final = re.compile(r'[\[\]{}"]')
#: The rest of a JSON string after its opening quote (escapes included).
_STRING_REST: Final = re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)


class JsonStreamError(Exception):
    """The JSON text is broken at ``line``: nothing after that point can be trusted."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")


@dataclass(frozen=True, slots=True)
class JsonItem:
    """One array element. ``utf8_ok`` is False when its bytes were not valid UTF-8 (then the value
    holds the undecodable bytes as lone surrogates and must be rejected, not imported).
    ``problem`` says why an element that could not be decoded at all (too deeply nested) was
    skipped; its value is then None."""

    line: int
    value: Any
    utf8_ok: bool
    problem: str | None = None

    @property
    def refusal(self) -> str | None:
        """Why the element cannot be imported as it is, or None."""
        if self.problem is not None:
            return self.problem
        return None if self.utf8_ok else "not valid UTF-8"

    @property
    def raw(self) -> str | None:
        """The element as text for the quarantine (None when it could not be decoded)."""
        return None if self.problem is not None else raw_json(self.value)


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
            except RecursionError:
                line = self.line_at(start)
                self._pos = self._end_of_nested(start)
                return JsonItem(line, None, True, TOO_DEEP)
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

    def _end_of_nested(self, start: int) -> int:
        """The offset just past the array or object at ``start``, found by matching brackets
        (strings skipped whole) without decoding: for a value too deep to decode, so that the
        elements after it are still read. Reads more input as needed, up to the element cap."""
        depth = 0
        rel = start - self._pos  # offsets are kept from ``_pos``: ``_fill`` may shift the buffer
        while True:
            buf, pos = self._buf, self._pos + rel
            m = _BRACKET.search(buf, pos)
            if m is not None and m[0] == '"':
                s = _STRING_REST.match(buf, m.end())
                if s is not None:
                    rel = s.end() - self._pos
                    continue
            elif m is not None:
                depth += 1 if m[0] in "[{" else -1
                rel = m.end() - self._pos
                if depth == 0:
                    return m.end()
                continue
            else:
                rel = len(buf) - self._pos
            # The value goes on past the buffer: read more, within the element cap.
            if len(buf) - self._pos > self._max_element or not self._fill(at_least=len(buf)):
                raise JsonStreamError(
                    self.line_at(self._pos), f"{TOO_DEEP}, and its end was not found"
                )

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
        return loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ImportDataError(f"{file}: not valid UTF-8 (byte {exc.start})") from None
    except JsonTextError as exc:
        where = f"line {exc.line}: invalid JSON: " if exc.line else ""
        raise ImportDataError(f"{file}: {where}{exc.reason}") from None


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
                continue
            if isinstance(item, ImportWarning):
                ingest.warn(item)
                continue
            raw = Withheld(record_ids(QKind(item.kind), item.record)) if item.third_party else None
            if item.kind == "account":
                ingest.account(item.record, file=item.file, line=item.line, raw=raw)
            elif item.kind == "content":
                ingest.content(item.record, file=item.file, line=item.line, raw=raw)
            else:
                ingest.interaction(item.record, file=item.file, line=item.line, raw=raw)
        return ingest.finish()
