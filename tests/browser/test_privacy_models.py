"""The privacy center's "where is my data" names the AI models trained on the person's content,
in English and in French, axe-clean at both widths; a person whose content no model saw is
shown none."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from consentry.compliance.deliveries import Deliveries
from consentry.models import Models
from consentry.snapshot.build import BuildSpec
from consentry.snapshot.workspace_build import workspace_builder

from .harness import WIDTHS, ConsentryServer, Pages, check_accessibility, screenshot
from .test_privacy_pages import signed_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


_TRAINED: dict[str, tuple[str, str, str]] = {}


def _trained(server: ConsentryServer) -> tuple[str, str, str]:
    """An internal snapshot of the server's workspace and a model trained on it (made once per
    server): the model's id, an account it holds, and one it does not."""
    if server.url not in _TRAINED:
        _TRAINED[server.url] = _train(server)
    return _TRAINED[server.url]


def _train(server: ConsentryServer) -> tuple[str, str, str]:
    ws = server.ws
    with ws.ledger() as ledger:
        builder = workspace_builder(ws, ledger, recipient=None)
        spec = BuildSpec(purpose="train", out=ws.root.parent / "models-snapshot")
        delivery = Deliveries(ledger, ws.deliveries_dir).build(builder, spec)[1]
        model = Models(ledger).register(
            None, "assistant", "2026.12", [delivery.snapshot_id], datetime.now(UTC)
        )
        held = set(delivery.read_map(["account_id"]).column(0).to_pylist())
    outside = next(a for a in server.accounts if a not in held)
    return model.model_id, sorted(held)[0], outside


@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_whereis_lists_the_models_trained_on_ones_content(
    pages: Pages, sqlite_server: ConsentryServer, locale: str
) -> None:
    model_id, account, outside = _trained(sqlite_server)
    page: Page = signed_in(pages(locale=locale), sqlite_server, account)
    page.goto(f"{sqlite_server.url}/privacy/whereis")
    row = page.locator(f"#whereis-model-{model_id}")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[:2] == ["assistant", "2026.12"]
    caption = page.locator("#whereis-models caption").inner_text()
    expected = {"en": "AI models trained on your content", "fr": "Modèles d'IA entraînés"}
    assert caption.startswith(expected[locale[:2]])
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        screenshot(page, f"privacy-whereis-models-{locale}", width)
        check_accessibility(page)
    other = signed_in(pages(locale=locale), sqlite_server, outside)
    other.goto(f"{sqlite_server.url}/privacy/whereis")
    assert other.locator("#whereis-models").count() == 0
