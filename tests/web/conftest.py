"""A signed-in person in a real service (uvicorn on loopback, SQLite and PostgreSQL), reusing
the API tests' launchers; pages are read with ``tests.web.html``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from tests.api.conftest import Service, new_account, service
from tests.web.html import Element, parse

__all__ = ["Person", "new_account", "service"]


@dataclass
class Person:
    """One person's browser: its own cookie jar, never following redirects by itself."""

    svc: Service
    account: str
    client: httpx.Client

    def sign_in(self, **headers: str) -> httpx.Response:
        response = self.client.get("/privacy", params={"token": self.svc.token(self.account)})
        assert response.status_code == 303, response.text
        return response

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.client.get(path, headers=headers)

    def page(self, path: str = "/privacy", **headers: str) -> Element:
        response = self.get(path, **headers)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return parse(response.text)

    def submit(self, form: Element, **fields: str) -> httpx.Response:
        """What a click on a button of ``form`` sends (``fields``: the button's name/value)."""
        return self.client.post(form.attrs["action"], data={**form.form_fields(), **fields})


def browser(svc: Service, account: str | None = None) -> Person:
    client = httpx.Client(base_url=svc.url, timeout=30, follow_redirects=False)
    return Person(svc, account or new_account(), client)


@pytest.fixture
def person(service: Service) -> Iterator[Person]:
    someone = browser(service)
    someone.sign_in()
    yield someone
    someone.client.close()
