"""Through a real service: the internal snapshots' events are nobody's but the platform's. A
licensee's feed, acknowledgements and snapshot list hold its recipient's only, and an
oversized cursor is a 400, not a 500."""

from __future__ import annotations

import os
from pathlib import Path

from tests.api.conftest import start_service
from tests.compliance.conftest import Run, all_events, feed

from consentry.workspace import Workspace


def test_licensees_never_see_internal_events(run: Run, tmp_path: Path) -> None:
    run("snapshot", "build", "--purpose", "train", "--out", "internal")
    run("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "s1")
    run("consent", "deny", "a1", "train")
    internal = feed(run, "--internal", "--since", "0")[0]
    acme = all_events(run)
    assert len(internal) == len(acme) == 5
    backend = "postgres" if os.environ.get("CONSENTRY_DB") else "sqlite"
    service, stop = start_service(Workspace.open(tmp_path / "ws"), backend)
    try:
        key = {"Authorization": f"Bearer {service.licensee_key('acme')}"}
        page = service.client.get("/v1/compliance/events", params={"cursor": "0"}, headers=key)
        assert page.status_code == 200
        assert [e["event_id"] for e in page.json()["events"]] == [e["event_id"] for e in acme]
        snapshots = service.client.get("/v1/snapshots", headers=key).json()["snapshots"]
        assert [s["recipient"] for s in snapshots] == ["acme"]
        # Acknowledging all of acme's acknowledges none of the internal snapshots'.
        last = acme[-1]["event_id"]
        r = service.client.post("/v1/compliance/ack", json={"through": last}, headers=key)
        assert r.status_code == 200 and r.json()["acknowledged"] == 5
        other = {"Authorization": f"Bearer {service.licensee_key('other')}"}
        none = service.client.get("/v1/compliance/events", params={"cursor": "0"}, headers=other)
        assert none.json()["events"] == []
        huge = service.client.get("/v1/compliance/events", params={"cursor": "9" * 20}, headers=key)
        assert huge.status_code == 400, huge.text
    finally:
        stop()
    # The internal feed was left as it was, unacknowledged.
    assert feed(run, "--internal")[0] == internal
