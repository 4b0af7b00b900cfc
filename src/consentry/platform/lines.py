"""Lines of a plain or zstandard-compressed stream (Pushshift / Arctic Shift dumps), in
bounded memory whatever the input: hostile input included.

- Decompression is done in bounded steps (a stream reader handing out ``ZSTD_OUT_CHUNK`` bytes
  at a time), so a few KB that expand to gigabytes never sit in memory at once.
- The window a frame may ask for is capped (``max_window``; the default, 2 GiB, is what
  ``--long=31`` dumps need: the decoder holds up to the window as it fills).
- A line over ``MAX_LINE_BYTES`` is skipped to its newline without being held; one running
  past ``MAX_SKIP_BYTES`` ends the file (``RunawayLineError``).
- A stream cut inside a frame is told apart from one that ends cleanly by following the frame
  and block headers (``ZstdFrames``): the decoder alone returns what it has and says nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import IO, Final, Protocol, cast

import zstandard


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


CHUNK_SIZE: Final = 1 << 20

ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
#: No Reddit row comes near this; a longer "line" is a file that is not NDJSON.
MAX_LINE_BYTES: Final = 16 << 20
#: A line over ``MAX_LINE_BYTES`` is skipped to its newline; one that runs on this far is not
#: a line of a dump at all, and the rest of the file is given up (a "zip bomb" of one endless
#: line would otherwise be decompressed whole, filling a large window's memory).
MAX_SKIP_BYTES: Final = 64 << 20
#: The largest zstandard window accepted by default: Pushshift and Arctic Shift dumps are
#: compressed with ``--long=31``, a 2 GiB window, which the decoder must hold in memory as it
#: fills (the library's own default, 128 MiB, refuses them). Lower it to bound memory.
ZSTD_MAX_WINDOW: Final = 2**31
#: Decompressed bytes asked of the decoder at a time: what one chunk holds at most.
ZSTD_OUT_CHUNK: Final = 1 << 20


class TruncatedInputError(Exception):
    """The rest of the input cannot be read: the compressed stream ends in the middle of a
    frame, is corrupt, needs a larger window than allowed, or holds no more lines."""


class ZstdWindowError(TruncatedInputError):
    """A zstandard frame declares a window larger than the cap."""


class RunawayLineError(TruncatedInputError):
    """A line runs past ``MAX_SKIP_BYTES`` without a newline."""


def _window_size(descriptor: int) -> int:
    exponent, mantissa = descriptor >> 3, descriptor & 7
    base = 1 << (10 + exponent)
    return base + (base >> 3) * mantissa


class ZstdFrames:
    """Follows the frame and block headers of a zstandard stream as its bytes go by, without
    decompressing (RFC 8878): the decoder cannot tell a stream cut inside a frame from one that
    ends cleanly, this can; and it refuses a frame whose window is over ``max_window`` before
    the decoder sees it."""

    def __init__(self, max_window: int) -> None:
        self.max_window = max_window
        self.offset = 0  # bytes seen
        self._acc = bytearray()
        self._skip = 0
        self._parser = self._frames()
        self._need = next(self._parser)
        self._boundary = True

    @property
    def between_frames(self) -> bool:
        """True when the bytes so far end exactly where a frame (or nothing) ends."""
        return self._boundary and not self._acc and not self._skip

    def feed(self, data: bytes) -> None:
        view, pos, n = memoryview(data), 0, len(data)
        while pos < n:
            if self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
                if not self._skip:
                    self._advance(b"")
                continue
            step = min(self._need - len(self._acc), n - pos)
            self._acc += view[pos : pos + step]
            pos += step
            if len(self._acc) == self._need:
                got = bytes(self._acc)
                self._acc.clear()
                self._advance(got)
        self.offset += n

    def _advance(self, got: bytes) -> None:
        need = self._parser.send(got)
        if need < 0:
            self._skip, self._need = -need, 0
        else:
            self._need = need

    def _frames(self) -> Generator[int, bytes, None]:
        # Yields how many bytes it needs next (negative: bytes to pass over unseen).
        while True:
            self._boundary = True
            magic = yield 4
            self._boundary = False
            if magic[1:] == b"\x2a\x4d\x18" and magic[0] & 0xF0 == 0x50:  # skippable frame
                size = int.from_bytes((yield 4), "little")
                if size:
                    yield -size
                continue
            if magic != ZSTD_MAGIC:
                raise TruncatedInputError(f"corrupt zstandard data: no frame at byte {self.offset}")
            flags = (yield 1)[0]
            single, checksum = flags & 0x20, flags & 0x04
            dict_bytes = (0, 1, 2, 4)[flags & 0x03]
            fcs_bytes = (1 if single else 0, 2, 4, 8)[flags >> 6]
            descriptor = None if single else (yield 1)[0]
            rest = (yield dict_bytes + fcs_bytes) if dict_bytes + fcs_bytes else b""
            if descriptor is not None:
                window = _window_size(descriptor)
            else:
                # A single-segment frame's window is its content size (2-byte sizes are +256).
                window = int.from_bytes(rest[dict_bytes:], "little") + (
                    256 if fcs_bytes == 2 else 0
                )
            if window > self.max_window:
                raise ZstdWindowError(
                    f"a zstandard frame needs a {window / 2**20:,.0f} MiB window, over the limit "
                    f"of {self.max_window / 2**20:,.0f} MiB (--max-zstd-window)"
                )
            last = False
            while not last:
                header = int.from_bytes((yield 3), "little")
                last, kind, size = bool(header & 1), (header >> 1) & 3, header >> 3
                if kind == 3:
                    raise TruncatedInputError(
                        f"corrupt zstandard data: reserved block type at byte {self.offset}"
                    )
                body = 1 if kind == 1 else size
                if body:
                    yield -body
            if checksum:
                yield -4


class _Tee:
    """A stream whose bytes are also shown to ``see`` as they are read."""

    def __init__(self, raw: Readable, see: Callable[[bytes], None]) -> None:
        self._raw = raw
        self._see = see

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        self._see(data)
        return data


def _zstd_chunks(raw: Readable, max_window: int) -> Iterator[bytes]:
    frames = ZstdFrames(max_window)
    dctx = zstandard.ZstdDecompressor(max_window_size=max_window)
    # The stream reader hands out at most ZSTD_OUT_CHUNK bytes per read, however much a few
    # compressed bytes expand to (a decompressobj returns all of it at once).
    source = cast(IO[bytes], _Tee(raw, frames.feed))  # the reader only calls ``read``
    reader = dctx.stream_reader(source, read_across_frames=True)
    while True:
        try:
            out = reader.read(ZSTD_OUT_CHUNK)
        except zstandard.ZstdError as exc:
            raise TruncatedInputError(f"corrupt zstandard data: {exc}") from None
        if not out:
            break
        yield out
    if not frames.between_frames:
        raise TruncatedInputError(
            f"the file is truncated: its zstandard stream ends inside a frame "
            f"(after {frames.offset:,} compressed bytes)"
        )


def _plain_chunks(raw: Readable, head: bytes) -> Iterator[bytes]:
    if head:
        yield head
    while data := raw.read(CHUNK_SIZE):
        yield data


def iter_chunks(raw: Readable, *, max_window: int = ZSTD_MAX_WINDOW) -> Iterator[bytes]:
    """The bytes of a plain or zstandard stream, decompressed, in chunks of bounded size.

    Compression is recognised by its magic number, not the file name. Raises
    ``TruncatedInputError`` after the last good chunk when a compressed stream is cut or
    corrupt, ``ZstdWindowError`` when a frame needs a window over ``max_window`` bytes.
    """
    head = raw.read(4)
    if head == ZSTD_MAGIC:
        return _zstd_chunks(_Prepend(head, raw), max_window)
    return _plain_chunks(raw, head)


def iter_lines(
    raw: Readable,
    *,
    max_line: int = MAX_LINE_BYTES,
    max_skip: int = MAX_SKIP_BYTES,
    max_window: int = ZSTD_MAX_WINDOW,
) -> Iterator[tuple[int, bytes | None]]:
    """``(line number from 1, line bytes without the newline)`` of a plain or ``.zst`` stream.

    A line longer than ``max_line`` bytes comes as ``None`` (it is skipped without being held in
    memory: a file with no newline at all must not be loaded whole); one still going after
    ``max_skip`` bytes raises ``RunawayLineError``. Raises ``TruncatedInputError`` after the
    last complete line when a compressed stream is cut.
    """
    pending: list[bytes] = []
    size = 0
    number = 0
    for chunk in iter_chunks(raw, max_window=max_window):
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
        if size > max_line:
            pending.clear()
        if size > max_skip:
            raise RunawayLineError(
                f"line {number + 1} runs on for over {max_skip:,} bytes without a newline: "
                "not a line of a dump"
            )
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
