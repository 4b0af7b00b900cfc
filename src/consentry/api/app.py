"""The application factory: ``create_app(settings)``; ``app_from_env`` for uvicorn workers."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from consentry.answer.live import LiveAnswers
from consentry.api import docs_page, problems, tokens
from consentry.api.consent_access import open_access
from consentry.api.fastlane import FastLane, Lane
from consentry.api.jobs import JobReaper
from consentry.api.middleware import AccessLog, BodyLimit, PlainRequest
from consentry.api.pool import LedgerPool
from consentry.api.ratelimit import make_limiter
from consentry.api.routes import (
    answer,
    assistant,
    changes,
    health,
    licensees,
    me_recipients,
    models,
    operators,
    people,
    rsl,
    signals,
)
from consentry.api.scanning import ScanTrigger
from consentry.api.settings import ServiceSettings
from consentry.api.state import ServiceState
from consentry.content.store import ContentStore
from consentry.web import admin as admin_console
from consentry.web import install as install_privacy_center
from consentry.web import pages as privacy_pages

DESCRIPTION = """Consent on every interface, and metered licensing for AI companies.

* **People** (a bearer JWT minted by the platform, `sub` = account id): `/v1/me/…`
* **Licensees** (an API key of one recipient): snapshots, compliance events, usage
* **Operators** (an admin API key): `/v1/admin/…`

Every error is an RFC 9457 problem document (`application/problem+json`).
"""


def create_app(settings: ServiceSettings) -> ASGIApp:
    """The service: FastAPI, with people's consent calls in a lane of their own, all logged."""
    api = create_api(settings)
    lanes = [
        Lane("GET", "/v1/me/consent", people.consent_response),
        Lane(
            "PUT",
            "/v1/me/consent/",
            people.change_response,
            param="purpose",
            param_max=people.PURPOSE_MAX,
        ),
        # The privacy center's page and its one-click change: a person's most frequent visits.
        Lane("GET", privacy_pages.PREFIX, privacy_pages.home),
        Lane("POST", f"{privacy_pages.PREFIX}/choice", privacy_pages.change_choice),
    ]
    # Outermost first: the access log sees the refusals (413, 400), and both lanes are guarded.
    larger = {"/v1/answer/eligible": max(settings.max_body, answer.MAX_BODY)}
    return AccessLog(
        PlainRequest(BodyLimit(FastLane(api, lanes), limit=settings.max_body, paths=larger))
    )


def create_api(settings: ServiceSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = LedgerPool(settings.workspace.db_url, settings.pool_size)
        # Buckets per database: two workspaces sharing a Redis never share limits.
        namespace = hashlib.sha256(settings.workspace.db_url.encode()).hexdigest()[:16]
        limiter = make_limiter(settings.redis_url, namespace)
        consent = await open_access(settings.workspace.db_url, pool, settings.pool_size)
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        reaper = JobReaper(settings.workspace, worker_id, settings.job_lease_s)
        reaper.start()
        answers = LiveAnswers(
            settings.workspace.db_url,
            ContentStore(settings.workspace.content_dir),
            settings.workspace.policy(),
        )
        await asyncio.to_thread(answers.start)
        # Everything loaded so far (the library, the policy, pools) lives as long as the worker:
        # moved out of the collector's sight, it is not traversed again by every collection,
        # which otherwise shows as pauses in the latency tail.
        gc.collect()
        gc.freeze()
        app.state.consentry = ServiceState(
            settings=settings,
            pool=pool,
            policy=settings.workspace.policy(),
            jwt_key=tokens.signing_key(settings.workspace),
            limiter=limiter,
            scans=ScanTrigger(settings.workspace),
            consent=consent,
            worker_id=worker_id,
            answers=answers,
        )
        try:
            yield
        finally:
            app.state.consentry.scans.close()
            answers.close()
            reaper.close()
            await limiter.close()
            await consent.close()
            pool.close()

    app = FastAPI(
        title="Consentry",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # docs_page serves /docs from this package, not from a CDN
        redoc_url=None,
    )
    problems.install(app)
    docs_page.install(app)
    for module in (
        health,
        people,
        me_recipients,
        licensees,
        models,
        operators,
        signals,
        rsl,
        answer,
        changes,
        assistant,
    ):
        app.include_router(module.router)
    install_privacy_center(app)  # the pages people use: /privacy
    admin_console.install(app)  # the operator's console: /admin
    return app


def app_from_env() -> ASGIApp:
    """The factory uvicorn calls in each worker (``consentry serve``)."""
    return create_app(ServiceSettings.from_env())
