"""What a service process reads from its environment: the workspace, Redis, limits.

Every worker reads the same variables as the CLI (``CONSENTRY_WORKSPACE``, ``CONSENTRY_DB``), so
that ``consentry serve`` serves exactly the workspace the commands act on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from consentry.errors import UsageError
from consentry.workspace import Workspace

ENV_REDIS: Final = "CONSENTRY_REDIS"
ENV_PERSON_RATE: Final = "CONSENTRY_PERSON_RATE"
ENV_ADMIN_RATE: Final = "CONSENTRY_ADMIN_RATE"
ENV_LICENSEE_RATE: Final = "CONSENTRY_LICENSEE_RATE"
ENV_MAX_BODY: Final = "CONSENTRY_MAX_BODY"
ENV_POOL: Final = "CONSENTRY_DB_POOL"
ENV_JOB_LEASE: Final = "CONSENTRY_JOB_LEASE"
#: Seconds without a heartbeat after which a background job's worker is taken for dead.
DEFAULT_JOB_LEASE_S: Final = 60


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, got {text!r}") from None
    if value <= 0:
        raise UsageError(f"{name} must be positive, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    workspace: Workspace
    redis_url: str | None = None
    #: Requests per minute per person (bearer token) and per admin key; licensees get their
    #: plan's rate, or ``licensee_rate`` without a plan.
    person_rate: int = 120
    admin_rate: int = 1200
    licensee_rate: int = 60
    #: Largest request body accepted, in bytes: every body the API takes is a small JSON object.
    max_body: int = 64 * 1024
    #: Database connections per worker process.
    pool_size: int = 4
    #: Seconds without a heartbeat after which a background job's worker is taken for dead and
    #: the job resumed by another.
    job_lease_s: float = DEFAULT_JOB_LEASE_S

    @classmethod
    def from_env(cls) -> ServiceSettings:
        return cls(
            workspace=Workspace.open(),
            redis_url=os.environ.get(ENV_REDIS) or None,
            person_rate=_int_env(ENV_PERSON_RATE, 120),
            admin_rate=_int_env(ENV_ADMIN_RATE, 1200),
            licensee_rate=_int_env(ENV_LICENSEE_RATE, 60),
            max_body=_int_env(ENV_MAX_BODY, 64 * 1024),
            pool_size=_int_env(ENV_POOL, 4),
            job_lease_s=float(_int_env(ENV_JOB_LEASE, DEFAULT_JOB_LEASE_S)),
        )
