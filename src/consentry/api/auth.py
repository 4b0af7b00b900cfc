"""Who is calling: a person (bearer JWT) or a key (admin, licensee, assistant), and the rate
limit.

Each route asks for one kind of principal; anything else is refused before the route runs:
401 without valid credentials, 403 with credentials of another role.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from consentry.api import tokens
from consentry.api.keys import ApiKey, ApiKeys, Role, split
from consentry.api.problems import ProblemError
from consentry.api.state import ServiceState, service_state

_bearer = HTTPBearer(auto_error=False, description="A person's JWT, or an API key (csk_…)")
_CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="consentry"'}
#: Requests per minute of an assistant key: the platform's own assistant asks once per answer
#: it grounds (hundreds a second per worker); a licensee's plan rate would starve it.
ASSISTANT_RATE: Final = 600_000
#: What a route that authenticates by itself (``authenticate``) declares in the OpenAPI.
BEARER_SECURITY: Final[dict[str, Any]] = {"security": [{"HTTPBearer": []}]}


@dataclass(frozen=True, slots=True)
class Person:
    account_id: str


@dataclass(frozen=True, slots=True)
class KeyHolder:
    key: ApiKey

    @property
    def recipient(self) -> str:
        assert self.key.recipient is not None
        return self.key.recipient


Principal = Person | KeyHolder
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
State = Annotated[ServiceState, Depends(service_state)]


def _unauthorised(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers=_CHALLENGE)


async def authenticate(request: Request) -> Principal:
    """The caller of ``request``, rate limit counted; 401 or 429 as a problem otherwise.

    Routes on the hot path call this directly rather than through FastAPI's dependency
    injection, whose resolution costs more per request than the database read behind it.
    """
    state = service_state(request)
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorised("this endpoint needs a bearer token (a person's JWT or an API key)")
    principal: Principal
    if split(token) is not None:
        check = await run_in_threadpool(_check_key, state, token)
        if check is None:
            raise _unauthorised("unknown or revoked API key")
        key, plan_rate = check
        principal = KeyHolder(key)
        rate = {Role.ADMIN: state.settings.admin_rate, Role.ASSISTANT: ASSISTANT_RATE}.get(
            key.role, plan_rate
        )
        bucket = f"key:{key.key_id}"
        request.state.principal = bucket
    else:
        try:
            account = state.token_checker.account_of(token)
        except tokens.InvalidTokenError:
            raise _unauthorised("invalid or expired token") from None
        principal = Person(account)
        rate = state.settings.person_rate
        bucket = f"person:{account}"
        request.state.principal = "person"
    wait = await state.limiter.hit(bucket, rate)
    if wait is not None:
        raise ProblemError(
            429,
            f"rate limit of {rate} requests per minute reached",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return principal


async def authenticate_person(request: Request) -> Person:
    return _as_person(await authenticate(request))


async def _principal(request: Request, credentials: Credentials) -> Principal:
    # ``credentials`` only documents the bearer scheme in the OpenAPI; the header is read once,
    # by ``authenticate``.
    return await authenticate(request)


def _check_key(state: ServiceState, token: str) -> tuple[ApiKey, int] | None:
    with state.pool.ledger() as ledger:
        check = ApiKeys(ledger).check(token)
    if check is None:
        return None
    return check.key, check.rate_per_minute or state.settings.licensee_rate


AnyPrincipal = Annotated[Principal, Depends(_principal)]


def _as_person(principal: Principal) -> Person:
    if not isinstance(principal, Person):
        raise ProblemError(
            403, "this endpoint is for people (a platform-minted token), not API keys"
        )
    return principal


async def person(principal: AnyPrincipal) -> Person:
    return _as_person(principal)


async def admin(principal: AnyPrincipal) -> KeyHolder:
    if not isinstance(principal, KeyHolder) or principal.key.role is not Role.ADMIN:
        raise ProblemError(403, "this endpoint needs an admin key")
    return principal


async def licensee(principal: AnyPrincipal) -> KeyHolder:
    if not isinstance(principal, KeyHolder) or principal.key.role is not Role.LICENSEE:
        raise ProblemError(403, "this endpoint needs a licensee key")
    return principal


async def assistant(principal: AnyPrincipal) -> KeyHolder:
    if not isinstance(principal, KeyHolder) or principal.key.role is not Role.ASSISTANT:
        raise ProblemError(403, "this endpoint needs an assistant key")
    return principal


PersonDep = Annotated[Person, Depends(person)]
AdminDep = Annotated[KeyHolder, Depends(admin)]
LicenseeDep = Annotated[KeyHolder, Depends(licensee)]
AssistantDep = Annotated[KeyHolder, Depends(assistant)]
