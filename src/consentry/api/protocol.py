"""uvicorn's httptools protocol with the request line and header block bounded.

httptools (llhttp) sets no limit of its own: one request with a 600 MB header made a worker
buffer all of it (255 MB to 2.6 GB), before any of the application ran. Here, as production
servers do (nginx: 8 KB a line; Node: 16 KB of headers), a request line past ``MAX_LINE`` is
answered 414 and a head (request line and headers) past ``MAX_HEAD`` 431, as soon as the
bytes read say so: a worker holds at most ``MAX_HEAD`` plus one read (256 KB) of a head.

A refused connection answers, stops parsing, and discards what still comes for a moment
(``LINGER_S``) before closing, so that a client still sending reads the answer rather than a
reset. ``consentry serve`` runs uvicorn with this protocol (``http=PROTOCOL``).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from consentry.api.problems import MEDIA_TYPE

MAX_LINE: Final = 8 * 1024
MAX_HEAD: Final = 32 * 1024
LINGER_S: Final = 2.0
#: What ``uvicorn.run(http=…)`` takes to use this protocol in every worker.
PROTOCOL: Final = "consentry.api.protocol:BoundedHttpToolsProtocol"


class _RefusedError(Exception):
    """Raised from a parser callback to stop the parser (the answer is already sent)."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    # Per connection: whether the parser is inside a request's head, and how many bytes of it
    # were fed; whether the connection was refused.
    _in_head = True
    _head_bytes = 0
    _refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: what still comes is dropped
        counting = self._in_head
        super().data_received(data)
        if self._refused:
            return
        # Still inside the head after the whole read was fed: every byte of it was head.
        if counting and self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                self._refuse(431, f"the request's head is larger than {MAX_HEAD} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_LINE:
            self._refuse(414, f"the request's target is longer than {MAX_LINE} bytes")
            raise _RefusedError

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # the parser's own errors; ours were answered already
            super().send_400_response(msg)

    def _refuse(self, status: int, detail: str) -> None:
        self._refused = True
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request while the previous answer is still being sent: an answer
            # now would land inside that one's body.
            self.transport.close()
            return
        phrase = HTTPStatus(status).phrase
        body = json.dumps(
            {"type": "about:blank", "title": phrase, "status": status, "detail": detail}
        ).encode()
        head = (
            f"HTTP/1.1 {status} {phrase}\r\ncontent-type: {MEDIA_TYPE}\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode("ascii")
        self.transport.write(head + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._unset_keepalive_if_required()
        self.loop.call_later(LINGER_S, self.transport.close)
