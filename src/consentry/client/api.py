"""The licensee API as a client sees it: one ``httpx.Client`` per sync, errors named.

Only what ``consentry.api.routes.licensees`` serves: the snapshots delivered, their files (with
``Range`` to resume), the compliance events from a cursor, and the acknowledgement.

A server that asks to wait (429 over the plan's requests per minute, 503 while its database is
away, each with ``Retry-After``) is waited for and asked again, up to ``max_wait`` seconds in
all per call: a snapshot of more shards than the plan allows requests a minute still syncs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Protocol

import httpx

from consentry.errors import BadKeyError, ServerUnreachableError, SyncError

CHUNK: Final = 1 << 20
PAGE: Final = 10_000
#: Seconds a call may spend waiting on ``Retry-After`` before its answer counts as a failure.
MAX_WAIT: Final = 300.0
#: The statuses that ask a client to come back later.
_LATER: Final = (429, 503)


class Sink(Protocol):
    """Where a download's bytes go: ``write`` each chunk; ``restart`` when the server sends the
    whole file instead of the rest (it changed), so that what was written is dropped."""

    def write(self, chunk: bytes, /) -> object: ...
    def restart(self) -> None: ...


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("detail") or body.get("title") or response.text)
    except ValueError:
        return response.text[:200]


class LicenseeApi:
    """``server``: the service's base URL; ``key``: the recipient's licensee key."""

    def __init__(
        self,
        server: str,
        key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        max_wait: float = MAX_WAIT,
        on_wait: Callable[[float, str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.server = server.rstrip("/")
        self.max_wait = max_wait
        self._on_wait = on_wait
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.server,
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(60.0, connect=10.0),
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LicenseeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code in (401, 403):
            raise BadKeyError(
                f"{self.server} refused the key ({response.status_code}: {_problem(response)}); "
                "give the licensee key the platform issued to your recipient"
            )
        if response.status_code >= 500:
            raise ServerUnreachableError(
                f"{self.server} failed ({response.status_code}: {_problem(response)}); "
                "try again later"
            )
        if response.status_code >= 400:
            raise SyncError(
                f"{self.server} answered {response.status_code} to {response.request.url.path}: "
                f"{_problem(response)}"
            )
        return response

    @contextmanager
    def _calling(self) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as exc:
            raise ServerUnreachableError(
                f"cannot reach {self.server}: {exc.__class__.__name__} {exc}; is the server up?"
            ) from None

    def _retry_after(self, response: httpx.Response, waited: float) -> float | None:
        """Seconds to wait before asking again, or None when the answer stands."""
        if response.status_code not in _LATER:
            return None
        try:
            wait = max(0.0, float(response.headers.get("retry-after", "")))
        except ValueError:  # absent, or an HTTP date: this server sends seconds
            return None
        if waited + wait > self.max_wait:
            return None
        if self._on_wait is not None:
            self._on_wait(wait, f"{response.status_code}: {_problem(response)}")
        return wait

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        waited = 0.0
        with self._calling():
            while True:
                response = self._client.request(method, path, **kw)
                wait = self._retry_after(response, waited)
                if wait is None:
                    return self._check(response).json()
                self._sleep(wait)
                waited += wait

    def snapshots(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/v1/snapshots")["snapshots"])

    def download(
        self,
        snapshot_id: str,
        path: str,
        out: Sink,
        *,
        start: int,
        etag: str | None,
        progress: Callable[[int, int | None], None],
    ) -> tuple[str | None, int]:
        """Append ``path`` of the snapshot to ``out`` from byte ``start`` (``out`` must then
        hold the first ``start`` bytes, fetched under ``etag``); the file's SHA-256 the server
        sent, and its size. A server that sends the whole file instead (it changed) restarts
        ``out`` from 0."""
        headers = {}
        if start > 0:
            headers["Range"] = f"bytes={start}-"
            if etag:
                headers["If-Range"] = etag
        url = f"/v1/snapshots/{snapshot_id}/files/{path}"
        waited = 0.0
        while True:
            with self._calling(), self._client.stream("GET", url, headers=headers) as r:
                if r.status_code >= 400:
                    r.read()  # the problem's body, for the message: a stream holds none yet
                wait = self._retry_after(r, waited)
                if wait is None:
                    return self._receive(r, out, start, progress)
            self._sleep(wait)
            waited += wait

    def _receive(
        self,
        r: httpx.Response,
        out: Sink,
        start: int,
        progress: Callable[[int, int | None], None],
    ) -> tuple[str | None, int]:
        """The body of a download's answer into ``out`` (``download`` says how)."""
        if r.status_code == 416 and start > 0:
            size = start  # already whole
            return r.headers.get("x-checksum-sha256"), size
        self._check(r)
        if r.status_code == 200 and start > 0:
            out.restart()
            start = 0
        length = int(r.headers.get("content-length", "0"))
        progress(start, start + length)
        for chunk in r.iter_bytes(CHUNK):
            out.write(chunk)
            progress(len(chunk), None)
        return r.headers.get("x-checksum-sha256"), start + length

    def events(self, cursor: str | None, limit: int = PAGE) -> tuple[list[dict[str, Any]], str]:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        body = self._json("GET", "/v1/compliance/events", params=params)
        return list(body["events"]), str(body["next_cursor"])

    def ack(self, through: int, attestations: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"through": through, "attestations": attestations}
        return dict(self._json("POST", "/v1/compliance/ack", json=body))
