"""What a newcomer meets around snapshots, through the CLI: looking inside one (`snapshot list`,
`snapshot show`), a check with the wrong key, a licensee without a workspace, an empty store."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from consentry.cli import common
from consentry.cli.main import app
from consentry.scrub.pseudonym import Pseudonymiser

Run = Callable[..., Result]
OTHER_SECRET = "cd" * 32


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Path]]:
    """A workspace with the demo platform imported, an internal snapshot and one for acme."""
    root = tmp_path_factory.mktemp("site")
    env = {"CONSENTRY_WORKSPACE": str(root / "ws"), "CONSENTRY_DB": "", "CONSENTRY_SECRET": ""}
    runner = CliRunner()

    def run(*args: str, code: int = 0, env_extra: dict[str, str] | None = None) -> Result:
        merged = {k: v for k, v in {**env, **(env_extra or {})}.items() if v}
        unset = {k: None for k in env if k not in merged}
        result = runner.invoke(app, list(args), env={**unset, **merged})
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(common.console, "width", 200)
        mp.setattr(common.err_console, "width", 200)
        run("demo", "generate", "--out", str(root / "platform"), "--seed", "3", "--posts", "2000")
        run("init")
        run("import", "canonical", str(root / "platform"))
        run("recipient", "add", "acme-ai")
        run("snapshot", "build", "--purpose", "train", "--out", str(root / "train"))
        run(
            "snapshot",
            "build",
            "--purpose",
            "train",
            "--recipient",
            "acme-ai",
            "--out",
            str(root / "acme-ai"),
        )
        yield run, root


def _id(folder: Path) -> str:
    return str(json.loads((folder / "manifest.json").read_text())["snapshot_id"])


def test_list_names_every_snapshot_in_full(site: tuple[Run, Path]) -> None:
    run, root = site
    out = run("snapshot", "list").output
    for name, whom in (("train", "(internal)"), ("acme-ai", "acme-ai")):
        line = next(ln for ln in out.splitlines() if _id(root / name) in ln)
        assert whom in line and str((root / name).resolve()) in line and "train" in line
    assert "folder gone" not in out


def test_list_says_when_a_folder_is_gone(site: tuple[Run, Path]) -> None:
    run, root = site
    out = root / "gone"
    run("snapshot", "build", "--purpose", "fine_tune", "--out", str(out))
    (out / "manifest.json").rename(root / "gone-manifest.json")  # as if moved away
    try:
        line = next(ln for ln in run("snapshot", "list").output.splitlines() if "fine_tune" in ln)
        assert "folder gone" in line
        shown = run("snapshot", "show", _id_of_listed(run, "fine_tune"), code=2).output
        assert "no longer there" in shown
    finally:
        (root / "gone-manifest.json").rename(out / "manifest.json")


def _id_of_listed(run: Run, purpose: str) -> str:
    line = next(ln for ln in run("snapshot", "list").output.splitlines() if purpose in ln)
    found = re.search(r"snap_[0-9a-f]{20}", line)
    assert found is not None
    return found.group(0)


def test_ids_are_never_cut_on_a_narrow_terminal(
    site: tuple[Run, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run, root = site
    monkeypatch.setattr(common.console, "width", 80)
    out = run("snapshot", "list").output
    assert _id(root / "train") in out and _id(root / "acme-ai") in out
    assert "…" not in out
    shown = run("snapshot", "show", str(root / "train"), "--head", "3").output
    first = pq.read_table(root / "train" / "data")["record_id"][:3].to_pylist()
    assert len(first) == 3
    assert all(rid in shown for rid in first) and "…" not in shown
    monkeypatch.setattr(common.console, "width", 60)
    held = run("recipient", "show", "acme-ai").output
    assert _id(root / "acme-ai") in held and "…" not in held


def test_show_a_folder_without_any_workspace(site: tuple[Run, Path]) -> None:
    run, root = site
    nowhere = {"CONSENTRY_WORKSPACE": str(root / "nowhere")}
    out = run("snapshot", "show", str(root / "acme-ai"), env_extra=nowhere).output
    assert _id(root / "acme-ai") in out and "for acme-ai" in out
    out = run("snapshot", "show", str(root / "train"), "--head", "2", env_extra=nowhere).output
    manifest = json.loads((root / "train" / "manifest.json").read_text())
    assert manifest["snapshot_id"] in out and "internal" in out
    for code, n in manifest["counts"]["excluded"].items():
        assert re.search(rf"{code}\s+{n:,}", out), code
    for kind, n in manifest["counts"]["pii_replaced"].items():
        assert re.search(rf"{kind}\s+{n:,}", out), kind
    for shard in manifest["shards"]:
        assert shard["path"] in out and shard["sha256"] in out
    rids = pq.read_table(root / "train" / "data")["record_id"].to_pylist()
    assert rids[0] in out and rids[1] in out and rids[2] not in out


def test_show_by_id_and_records_with_their_originals(site: tuple[Run, Path]) -> None:
    run, root = site
    out = run("snapshot", "show", _id(root / "train"), "--head", "1", "--with-pii", "--original")
    table = pq.read_table(root / "train" / "data")
    scrubbed = table.filter(pc.greater(pc.list_value_length(table["pii"]), 0))
    rid, text = scrubbed["record_id"][0].as_py(), scrubbed["text"][0].as_py()
    assert f"record {rid}" in out.output
    # The original is the platform's own text of the item the record was made from, whole.
    secret = bytes.fromhex((root / "ws" / "secret").read_text().strip())
    items = [json.loads(ln) for ln in (root / "platform" / "content.jsonl").open()]
    ids = pa.array([item["id"] for item in items], pa.string())
    made = Pseudonymiser(secret, None).contents(ids).to_pylist()
    original = items[made.index(rid)]["text"]
    assert original != text
    shown = re.sub(r"\s+", " ", out.output)
    assert re.sub(r"\s+", " ", original) in shown and re.sub(r"\s+", " ", text) in shown


def test_show_unknown(site: tuple[Run, Path]) -> None:
    run, root = site
    assert "snapshot list" in run("snapshot", "show", "snap_nope", code=2).output
    nowhere = {"CONSENTRY_WORKSPACE": str(root / "nowhere")}
    out = run("snapshot", "show", "no/such/dir", code=2, env_extra=nowhere).output
    assert "no snapshot folder" in out and "consentry init" not in out
    assert "not a snapshot" in run("snapshot", "show", str(root), code=2).output


def test_verify_with_another_key_says_so_once(site: tuple[Run, Path]) -> None:
    run, root = site
    result = run(
        "snapshot", "verify", str(root / "train"), code=10,
        env_extra={"CONSENTRY_SECRET": OTHER_SECRET},
    )  # fmt: skip
    out = result.output
    fingerprint = json.loads((root / "train" / "manifest.json").read_text())["pseudonyms"][
        "key_fingerprint"
    ]
    assert "built with another key" in out and fingerprint in out and "CONSENTRY_SECRET" in out
    assert f"consentry snapshot verify --offline {root / 'train'}" in out
    assert "should not be" not in out and "problem" not in out
    assert "ok" in run("snapshot", "verify", "--offline", str(root / "train")).output


def test_a_licensee_without_a_workspace_is_sent_to_offline(site: tuple[Run, Path]) -> None:
    run, root = site
    nowhere = {"CONSENTRY_WORKSPACE": str(root / "nowhere")}
    for args in (("verify", str(root / "train")), ("prove", str(root / "train"), _first(root))):
        out = run("snapshot", *args, code=4, env_extra=nowhere).output
        assert f"consentry snapshot {' '.join((args[0], '--offline', *args[1:]))}" in out
        assert "consentry init" not in out
    card = (root / "train" / "README.md").read_text()
    assert "consentry snapshot verify --offline DIR" in card


def _first(root: Path) -> str:
    return str(pq.read_table(root / "train" / "data")["record_id"][0].as_py())


def test_a_secret_that_is_not_hex_says_how_to_make_one(site: tuple[Run, Path]) -> None:
    run, root = site
    out = run(
        "snapshot", "verify", str(root / "train"), code=4,
        env_extra={"CONSENTRY_SECRET": "not-hex"},
    ).output  # fmt: skip
    assert "CONSENTRY_SECRET is not hex" in out
    assert "secrets.token_hex(32)" in out and "consentry init" in out


def test_build_on_an_empty_store_refuses(tmp_path: Path) -> None:
    env = {"CONSENTRY_WORKSPACE": str(tmp_path / "ws")}
    runner = CliRunner()
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    result = runner.invoke(
        app, ["snapshot", "build", "--purpose", "train", "--out", str(tmp_path / "s")], env=env
    )
    assert result.exit_code == 2, result.output
    assert "no content" in result.output and "consentry import canonical" in result.output
    assert not (tmp_path / "s").exists()
    listed = runner.invoke(app, ["snapshot", "list"], env=env).output
    assert "No snapshots yet" in listed  # and no delivery recorded
