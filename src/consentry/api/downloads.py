"""Snapshot files over HTTP: single byte ranges (resumable downloads), checksums in headers.

``Range: bytes=A-B`` / ``A-`` / ``-N`` is answered 206 with ``Content-Range``; several ranges,
or an ``If-Range`` that no longer matches, get the whole file (RFC 9110 lets a server ignore
Range); a range past the end gets 416. Every answer carries the whole file's SHA-256 (as the
manifest lists it) in ``ETag``, ``Repr-Digest`` (RFC 9530) and ``X-Checksum-SHA256``, so that a
client checks the file it reassembled.

Files are opened by ``open_regular``: only regular files inside the snapshot folder, reached
without following a symbolic link, are ever read (a link planted in a snapshot folder, to the
workspace secret say, is answered 404, never followed).
"""

from __future__ import annotations

import base64
import errno
import os
import re
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import Final

import anyio

from consentry.api.fields import bounded
from consentry.api.problems import ProblemError
from consentry.outputs import plain_parts

CHUNK: Final = 1 << 20
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")  # ASCII digits only
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted in the folder must not hang the worker at open (it is then refused
# as not a regular file); a regular file's reads ignore the flag.
_FILE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int  # inclusive
    partial: bool

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def checksum_headers(sha256_hex: str) -> dict[str, str]:
    b64 = base64.b64encode(bytes.fromhex(sha256_hex)).decode()
    return {
        "ETag": f'"{sha256_hex}"',
        "Repr-Digest": f"sha-256=:{b64}:",
        "X-Checksum-SHA256": sha256_hex,
        "Accept-Ranges": "bytes",
    }


def span_of(range_header: str | None, if_range: str | None, size: int, etag: str) -> Span:
    whole = Span(0, size - 1, False)
    if not range_header or size == 0:
        return whole
    if if_range is not None and if_range.strip() != etag:
        return whole  # the file changed since the client's first part: start again
    m = _RANGE.match(range_header.strip())
    if m is None:
        return whole  # several ranges, or another unit: allowed to ignore
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        return whole
    if first == "":
        n = _position(last, size)
        if n == 0:
            raise _unsatisfiable(size)
        return Span(max(0, size - n), size - 1, True)
    start = _position(first, size)
    end = min(_position(last, size), size - 1) if last else size - 1
    if start >= size or (last and _position(last, size) < start):
        raise _unsatisfiable(size)
    return Span(start, end, True)


def _position(digits: str, size: int) -> int:
    """A Range position; 416 past ``fields.MAX_INT``."""
    value = bounded(digits)
    if value is None:
        raise _unsatisfiable(size)
    return value


def _unsatisfiable(size: int) -> ProblemError:
    return ProblemError(
        416,
        f"the range asked for is outside the file ({size} bytes)",
        headers={"Content-Range": f"bytes */{size}"},
    )


def open_regular(folder: Path, relative: str, what: str) -> BufferedReader:
    """``relative`` (``/``-separated) under ``folder``, open for reading, when each step is a
    plain name, none a symbolic link, and the last a regular file: 404 otherwise, 410 when it
    is not there. Walked one directory at a time with ``O_NOFOLLOW`` from descriptors already
    open, so a link swapped in during the walk is refused as well."""
    parts = plain_parts(relative)
    if parts is None:
        raise _not_servable(what)
    dir_fd = _open_at(str(folder), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, None, what)
    try:
        for part in parts[:-1]:
            fd = _open_at(part, _DIR_FLAGS, dir_fd, what)
            os.close(dir_fd)
            dir_fd = fd
        fd = _open_at(parts[-1], _FILE_FLAGS, dir_fd, what)
    finally:
        os.close(dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_servable(what)
    return os.fdopen(fd, "rb")


def _open_at(name: str, flags: int, dir_fd: int | None, what: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise ProblemError(410, f"{what} is no longer on file") from None
    except OSError as exc:
        # ELOOP: a symbolic link (O_NOFOLLOW); ENOTDIR: a file, or a link, where a folder was.
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _not_servable(what) from None
        raise


def _not_servable(what: str) -> ProblemError:
    return ProblemError(404, f"{what} is not a file of the snapshot")


async def stream(
    fh: BufferedReader, span: Span, on_done: Callable[[int, bool], None]
) -> AsyncIterator[bytes]:
    """The bytes of ``span`` of ``fh`` (closed after); then ``on_done(bytes sent, whether all
    were)`` in a thread."""
    sent = 0
    complete = False
    try:
        async with anyio.AsyncFile(fh) as file:
            await file.seek(span.start)
            left = span.length
            while left > 0:
                chunk = await file.read(min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                sent += len(chunk)
                yield chunk
            complete = left == 0
    finally:
        await anyio.to_thread.run_sync(on_done, sent, complete)
