"""The application factory: ``create_app(settings)``; ``app_from_env`` for uvicorn workers."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from consentry.api import problems, tokens
from consentry.api.middleware import AccessLog, BodyLimit
from consentry.api.pool import LedgerPool
from consentry.api.ratelimit import make_limiter
from consentry.api.routes import health, licensees, operators, people
from consentry.api.scanning import ScanTrigger
from consentry.api.settings import ServiceSettings
from consentry.api.state import ServiceState

DESCRIPTION = """Consent on every interface, and metered licensing for AI companies.

* **People** (a bearer JWT minted by the platform, `sub` = account id): `/v1/me/…`
* **Licensees** (an API key of one recipient): snapshots, compliance events, usage
* **Operators** (an admin API key): `/v1/admin/…`

Every error is an RFC 9457 problem document (`application/problem+json`).
"""


def create_app(settings: ServiceSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = LedgerPool(settings.workspace.db_url, settings.pool_size)
        # Buckets per database: two workspaces sharing a Redis never share limits.
        namespace = hashlib.sha256(settings.workspace.db_url.encode()).hexdigest()[:16]
        limiter = make_limiter(settings.redis_url, namespace)
        app.state.consentry = ServiceState(
            settings=settings,
            pool=pool,
            policy=settings.workspace.policy(),
            jwt_key=tokens.signing_key(settings.workspace),
            limiter=limiter,
            scans=ScanTrigger(settings.workspace),
        )
        try:
            yield
        finally:
            app.state.consentry.scans.close()
            await limiter.close()
            pool.close()

    app = FastAPI(
        title="Consentry",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    problems.install(app)
    for module in (health, people, licensees, operators):
        app.include_router(module.router)
    # Outermost first: the access log sees the size limit's 413s too.
    app.add_middleware(BodyLimit, limit=settings.max_body)
    app.add_middleware(AccessLog)
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker (``consentry serve``)."""
    return create_app(ServiceSettings.from_env())
