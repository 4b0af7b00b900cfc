"""Schemathesis against the live server's ``/openapi.json``: generated requests to every
operation, as the role each is for, on SQLite and PostgreSQL; never a 5xx, and every error is a
problem document.

Driven by hand (operations → Hypothesis strategies) rather than by schemathesis' pytest plugin,
which does not take a parametrised, module-scoped fixture."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import Service, new_account


def _auth(service: Service, path: str, licensee: str) -> dict[str, str]:
    if path.startswith("/v1/me"):
        return service.person(new_account())
    if path.startswith("/v1/admin"):
        return service.admin()
    return {"Authorization": f"Bearer {licensee}"}


@pytest.mark.slow
def test_no_server_errors(service: Service) -> None:
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    licensee = service.licensee_key("fuzz-recipient")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10
    seen: list[str] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            headers = _auth(service, case.path, licensee)
            response = case.call(base_url=service.url, headers=headers)
            assert response.status_code < 500, (case.method, case.path, response.text)
            if response.status_code >= 400:
                content_type = response.headers["content-type"][0]
                assert content_type.startswith("application/problem+json"), response.text
            seen.append(f"{case.method} {case.path}")

        check()
    assert len(set(seen)) == len(operations)
