"""`consentry model …` over the small platform, on SQLite and PostgreSQL: the platform's own
models registered on its internal snapshots only, their exposure after a withdrawal checked
against the snapshot's own records, the retraining deadline in `compliance overdue`, the models
in `whereis`/`export`, and the AI Act summary filled from the manifests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.compliance.conftest import SECRET, Run

from consentry.models import Models
from consentry.models.exposure import exposures_of
from consentry.scrub.pseudonym import Pseudonymiser
from consentry.workspace import Workspace

from .conftest import snapshot_id

#: Each test builds snapshots (and the API's a server): seconds each.
pytestmark = pytest.mark.slow


def _build(run: Run, out: str, *recipient: str) -> str:
    run("snapshot", "build", "--purpose", "train", "--out", out, *recipient)
    return snapshot_id(Path(out))


def _records_by(folder: Path, account: str, recipient: str | None) -> set[str]:
    """The records of ``folder`` authored by ``account``: read from the snapshot itself."""
    author = Pseudonymiser(bytes.fromhex(SECRET), recipient).account(account)
    table = pq.read_table(folder / "data").to_pylist()
    return {r["record_id"] for r in table if r["author"] == author}


def test_register_list_show_and_the_refusals(run: Run) -> None:
    internal = _build(run, "s-int")
    acme = _build(run, "s-acme", "--recipient", "acme")
    out = run("model", "register", "chat", "1", "-s", internal).output
    model_id = out.split("registered as ")[1].split(":")[0]
    assert model_id.startswith("m-")
    listed = json.loads(run("model", "list", "--json").output)
    assert [(m["id"], m["name"], m["version"], m["snapshots"]) for m in listed] == [
        (model_id, "chat", "1", [internal])
    ]
    for ref in (model_id, "chat@1"):
        assert json.loads(run("model", "show", ref).output)["id"] == model_id
    # The same again is the same model; other snapshots or another time is refused.
    trained = listed[0]["trained_at"]
    run("model", "register", "chat", "1", "-s", internal, "--trained-at", trained)
    err = run("model", "register", "chat", "1", "-s", internal, code=2).stderr
    assert "already recorded" in err
    # A recipient's snapshot is no internal one; unknown ids read the same.
    refused = run("model", "register", "chat", "2", "-s", acme, code=2).stderr
    unknown = run("model", "register", "chat", "2", "-s", "snap_nope", code=2).stderr
    assert refused.replace(acme, "X") == unknown.replace("snap_nope", "X")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    register = ("model", "register", "c", "1", "-s", internal, "--trained-at")
    assert "future" in run(*register, future, code=2).stderr
    assert "before snapshot" in run(*register, "2020-01-01T00:00:00Z", code=2).stderr
    assert "no model" in run("model", "show", "chat@9", code=2).stderr
    assert json.loads(run("model", "list", "--recipient", "acme", "--json").output) == []


def test_exposure_after_a_withdrawal_is_the_authors_records(run: Run) -> None:
    internal = _build(run, "s-int")
    run("model", "register", "chat", "1", "-s", internal)
    assert "no record it saw" in run("model", "exposure", "chat@1").output
    run("consent", "deny", "a1", "train")
    found = json.loads(run("model", "exposure", "chat@1", "--json").output)
    data = {e["record_id"] for e in found["exposed"] if e["table"] == "data"}
    assert data == _records_by(Path("s-int"), "a1", None) and data
    assert {g["reason"] for g in found["by_reason"]} == {"consent_denied"}
    assert found["records"] == len(found["exposed"]) and not found["overdue"]
    assert "account_id" not in found["exposed"][0]  # pseudonyms only
    shown = run("model", "exposure", "chat@1").output
    assert "consent_denied" in shown and f"{found['records']} record(s)" in shown


def test_overdue_after_the_policy_deadline_until_retired(run: Run) -> None:
    internal = _build(run, "s-int")
    run("model", "register", "chat", "1", "-s", internal)
    run("consent", "deny", "a2", "train")
    soon = (datetime.now(UTC) + timedelta(days=89)).isoformat()
    late = (datetime.now(UTC) + timedelta(days=91)).isoformat()
    # Day 89: the holder's events are overdue (30 days), the model not yet (90).
    assert "chat@1" not in run("compliance", "overdue", "--at", soon, code=1).output
    assert "chat@1" in run("compliance", "overdue", "--at", late, code=1).output
    run("model", "retire", "chat@1")
    assert "chat@1" not in run("compliance", "overdue", "--at", late, code=1).output
    assert json.loads(run("model", "show", "chat@1").output)["retired"]


def test_whereis_and_export_name_the_models(run: Run) -> None:
    internal = _build(run, "s-int")
    acme = _build(run, "s-acme", "--recipient", "acme")
    run("model", "register", "chat", "1", "-s", internal)
    models = json.loads(run("whereis", "a1", "--json").output)["models"]
    assert [(m["name"], m["version"], m["recipient"], m["snapshots"]) for m in models] == [
        ("chat", "1", None, [internal])
    ]
    assert acme not in models[0]["snapshots"]
    exported = json.loads(run("export", "a1").output)
    assert [m["name"] for m in exported["models"]] == ["chat"]
    # a4 never consented to share, and is in no model of acme's: only the internal one.
    assert [
        m["recipient"] for m in json.loads(run("whereis", "a4", "--json").output)["models"]
    ] == [None]


def test_summary_is_filled_from_the_manifests(run: Run, tmp_path: Path) -> None:
    internal = _build(run, "s-int")
    again = _build(run, "s-int2")  # (the same content: another id only if the head moved)
    run("consent", "deny", "a3", "train")
    third = _build(run, "s-int3")
    snapshots = sorted({internal, again, third})
    run("model", "register", "chat", "1", *[a for s in snapshots for a in ("-s", s)])
    summary = json.loads(run("model", "summary", "chat@1", "--format", "json").output)
    manifests = [json.loads((Path(f) / "manifest.json").read_text())
                 for f in ("s-int", "s-int2", "s-int3")]  # fmt: skip
    by_id = {m["snapshot_id"]: m for m in manifests}
    excluded: dict[str, int] = {}
    for m in by_id.values():
        for reason, n in m["counts"]["excluded"].items():
            excluded[reason] = excluded.get(reason, 0) + n
    opt = summary["opt_outs"]
    assert opt["section"] == "3.1" and opt["excluded_by_reason"] == excluded
    assert sorted(
        (p["snapshot_id"], p["seq"], p["head"]) for p in opt["ledger_positions"]
    ) == sorted((i, m["ledger"]["seq"], m["ledger"]["head"]) for i, m in by_id.items())
    assert summary["user_data"]["section"] == "2.4"
    assert summary["modalities"]["text_records"] == sum(
        m["counts"]["included"] for m in by_id.values()
    )
    md = tmp_path / "summary.md"
    run("model", "summary", "chat@1", "--out", str(md))
    text = md.read_text()
    for heading in ("## 1.2", "## 1.3", "## 2.4", "## 3.1", "## 3.3"):
        assert heading in text
    for reason in excluded:
        assert f"`{reason}`" in text


def test_many_models_read_together_are_each_read_alone(run: Run) -> None:
    first = _build(run, "s-int")
    run("consent", "deny", "a1", "train")
    second = _build(run, "s-int2")
    run("consent", "deny", "a2", "train")
    run("model", "register", "a", "1", "-s", first)
    run("model", "register", "b", "1", "-s", first, "-s", second)
    run("model", "register", "c", "1", "-s", second)
    alone = [json.loads(run("model", "exposure", f"{m}@1", "--json").output) for m in "abc"]
    with Workspace.open(None).ledger() as ledger:
        models = Models(ledger).held_by(None)
        together = [e.to_json() for e in exposures_of(ledger, models)]
    assert [e["model"]["name"] for e in together] == ["a", "b", "c"]
    for one, many in zip(alone, together, strict=True):
        assert {**one, "overdue": None} == {**many, "overdue": None}
    # b holds a2's records twice (in both snapshots): once each in its exposure.
    b = together[1]["exposed"]
    assert len({(e["table"], e["record_id"]) for e in b}) == len(b)
    c = {(e["table"], e["record_id"]) for e in together[2]["exposed"]}
    assert c and c <= {(e["table"], e["record_id"]) for e in b}
