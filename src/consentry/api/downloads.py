"""Snapshot files over HTTP: single byte ranges (resumable downloads), checksums in headers.

``Range: bytes=A-B`` / ``A-`` / ``-N`` is answered 206 with ``Content-Range``; several ranges,
or an ``If-Range`` that no longer matches, get the whole file (RFC 9110 lets a server ignore
Range); a range past the end gets 416. Every answer carries the whole file's SHA-256 (as the
manifest lists it) in ``ETag``, ``Repr-Digest`` (RFC 9530) and ``X-Checksum-SHA256``, so that a
client checks the file it reassembled.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import anyio

from consentry.api.problems import ProblemError

CHUNK: Final = 1 << 20
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


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
        n = int(last)
        if n == 0:
            raise _unsatisfiable(size)
        return Span(max(0, size - n), size - 1, True)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(size)
    return Span(start, end, True)


def _unsatisfiable(size: int) -> ProblemError:
    return ProblemError(
        416,
        f"the range asked for is outside the file ({size} bytes)",
        headers={"Content-Range": f"bytes */{size}"},
    )


async def stream(
    path: Path, span: Span, on_done: Callable[[int, bool], None]
) -> AsyncIterator[bytes]:
    """The bytes of ``span``; then ``on_done(bytes sent, whether all were)`` in a thread."""
    sent = 0
    complete = False
    try:
        async with await anyio.open_file(path, "rb") as fh:
            await fh.seek(span.start)
            left = span.length
            while left > 0:
                chunk = await fh.read(min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                sent += len(chunk)
                yield chunk
            complete = left == 0
    finally:
        await anyio.to_thread.run_sync(on_done, sent, complete)
