"""A dependency of the service (Redis) going away and coming back, told once each way.

While it is away every request that needs it is answered 503 with ``Retry-After`` (not a 500
with a traceback per request: thousands a second fill a disk and say nothing new); the log says
once that it went, once that it is back, and ``/healthz`` reports it.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from consentry.api.problems import ProblemError

log = logging.getLogger("consentry.api")
#: Seconds a client is asked to wait: reconnecting is tried on every request meanwhile.
RETRY_AFTER_S: Final = 5


class Outage:
    def __init__(self, name: str) -> None:
        self.name = name
        self._since: float | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: Exception) -> ProblemError:
        """Note a failed call (logged when it starts an outage); the problem to answer."""
        if self._since is None:
            self._since = time.monotonic()
            log.error(
                "%s is unreachable (%s: %s): answering 503 until it is back",
                self.name,
                type(exc).__name__,
                exc,
            )
        return ProblemError(
            503,
            "the service cannot check rate limits now; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    def succeeded(self) -> None:
        if self._since is not None:
            log.warning(
                "%s is reachable again after %.1f s", self.name, time.monotonic() - self._since
            )
            self._since = None
