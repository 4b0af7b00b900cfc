"""What one worker process holds for the life of the app: settings, pool, policy, limiter."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from consentry.answer.live import LiveAnswers
from consentry.api.consent_access import ConsentAccess
from consentry.api.pool import LedgerPool
from consentry.api.ratelimit import RateLimiter
from consentry.api.scanning import ScanTrigger
from consentry.api.settings import ServiceSettings
from consentry.api.tokens import TokenChecker
from consentry.policy import Policy


@dataclass(slots=True)
class ServiceState:
    settings: ServiceSettings
    pool: LedgerPool
    policy: Policy
    jwt_key: bytes
    limiter: RateLimiter
    scans: ScanTrigger
    consent: ConsentAccess
    #: This worker process, as the owner of the background jobs it runs.
    worker_id: str
    #: This worker's live eligibility index (``consentry.answer``), None until started.
    answers: LiveAnswers | None = None
    token_checker: TokenChecker = field(init=False)

    def __post_init__(self) -> None:
        self.token_checker = TokenChecker(self.jwt_key)


def service_state(request: Request) -> ServiceState:
    state = request.app.state.consentry
    assert isinstance(state, ServiceState)
    return state
