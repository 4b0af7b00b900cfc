"""Every command that writes or replaces a path refuses the places it must never touch
(issue 14, point 1): through the CLI, in a real workspace, checking that what it refused
survives byte for byte and that the message says why, with a non-zero exit and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consentry.errors import UsageError
from consentry.outputs import refuse_protected

from .conftest import Run

USAGE = 2


@pytest.fixture
def ws(run: Run, tmp_path: Path, demo_platform: Path) -> Path:
    """A workspace at ./.consentry with the demo platform imported."""
    run("init")
    run("import", "canonical", str(demo_platform))
    return tmp_path / ".consentry"


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes (SQLite's -wal/-shm come and go with
    connections, and are not content)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def notes(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "todo.txt").write_text("buy milk\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "diary.md").write_text("dear diary\n")
    return folder


def build(run: Run, out: str, *extra: str, code: int = 0) -> str:
    result = run("snapshot", "build", "--purpose", "train", "--out", out, *extra, code=code)
    assert "Traceback" not in result.output
    return result.output


def test_force_refuses_a_folder_of_notes(run: Run, ws: Path, tmp_path: Path) -> None:
    before = tree(notes(tmp_path / "notes"))
    for extra in ((), ("--force",)):
        out = build(run, "notes", *extra, code=USAGE)
        assert "notes exists and is not a Consentry snapshot" in out
    assert tree(tmp_path / "notes") == before
    assert not list(tmp_path.glob(".notes*"))


def test_force_refuses_the_current_folder(run: Run, ws: Path, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    before = tree(tmp_path)
    assert "--out . is the current folder" in build(run, ".", "--force", code=USAGE)
    assert "is a parent of the current folder" in build(run, "..", "--force", code=USAGE)
    assert tree(tmp_path) == before


def test_force_refuses_the_workspace_and_its_parents(
    run: Run, tmp_path: Path, demo_platform: Path
) -> None:
    workspace = tmp_path / "outer" / "ws"
    run("init", "-w", str(workspace))
    run("import", "canonical", str(demo_platform), "-w", str(workspace))
    run("ledger", "head", "-w", str(workspace))
    before = tree(tmp_path / "outer")
    out = build(run, str(workspace), "--force", "-w", str(workspace), code=USAGE)
    assert "is the workspace" in out
    out = build(run, "outer", "--force", "-w", str(workspace), code=USAGE)
    assert f"is a parent of the workspace {workspace}" in out
    assert tree(tmp_path / "outer") == before
    assert run("ledger", "verify", "-w", str(workspace)).exit_code == 0


def test_force_refuses_a_file(run: Run, ws: Path, tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7 not mine")
    out = build(run, "report.pdf", "--force", code=USAGE)
    assert "report.pdf is a file, not a Consentry snapshot" in out
    out = build(run, "report.pdf/snap", code=USAGE)
    assert "report.pdf is a file, so no folder can be made there" in out
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF-1.7 not mine"


def test_a_foreign_partial_folder_is_refused_not_deleted(
    run: Run, ws: Path, tmp_path: Path
) -> None:
    partial = notes(tmp_path / ".snap.partial")
    before = tree(partial)
    out = build(run, "snap", "--force", code=USAGE)
    assert ".snap.partial is in the way" in out and "not the work folder" in out
    assert tree(partial) == before
    assert not (tmp_path / "snap").exists()


def test_a_partial_left_by_another_build_is_cleared(run: Run, ws: Path, tmp_path: Path) -> None:
    partial = tmp_path / ".snap.partial"
    (partial / "data").mkdir(parents=True)
    (partial / "build.json").write_text('{"build_id": "an earlier build of other inputs"}')
    (partial / "data" / "part-00000.parquet").write_bytes(b"stale")
    build(run, "snap")
    assert not partial.exists() and (tmp_path / "snap" / "manifest.json").is_file()
    run("snapshot", "verify", "snap")


def test_a_partial_file_is_refused(run: Run, ws: Path, tmp_path: Path) -> None:
    (tmp_path / ".snap.partial").write_text("someone's")
    assert ".snap.partial is in the way" in build(run, "snap", code=USAGE)
    assert (tmp_path / ".snap.partial").read_text() == "someone's"


def test_a_snapshot_is_replaced_and_nothing_else_is_deleted(
    run: Run, ws: Path, tmp_path: Path
) -> None:
    build(run, "snap")
    first = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    # A folder that merely has the name the replace step once used is not Consentry's.
    bystander = notes(tmp_path / ".snap.old")
    before = tree(bystander)
    assert "already exists (use --force" in build(run, "snap", code=USAGE)
    run("consent", "grant", "999999", "train")  # a later ledger head: another snapshot
    build(run, "snap", "--force")
    second = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert second["snapshot_id"] != first["snapshot_id"]
    assert tree(bystander) == before
    leftovers = {p.name for p in tmp_path.iterdir() if p.name.startswith(".snap")}
    assert leftovers == {".snap.old"}
    run("snapshot", "verify", "snap")


def test_force_refuses_a_symlink_to_a_snapshot(run: Run, ws: Path, tmp_path: Path) -> None:
    build(run, "snap")
    (tmp_path / "link").symlink_to(tmp_path / "snap")
    before = tree(tmp_path / "snap")
    assert "link is a symbolic link" in build(run, "link", "--force", code=USAGE)
    assert tree(tmp_path / "snap") == before and (tmp_path / "link").is_symlink()


def test_inside_the_workspace_only_its_snapshots_folder(run: Run, ws: Path, tmp_path: Path) -> None:
    for inside in (".consentry/content", ".consentry/notes", ".consentry/snapshots"):
        out = build(run, inside, "--force", code=USAGE)
        assert "is inside the workspace" in out and "only under" in out
    assert not (ws / "notes").exists()
    build(run, ".consentry/snapshots/train")
    assert (ws / "snapshots" / "train" / "manifest.json").is_file()


def test_force_refuses_the_home_folder(
    run: Run, ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = notes(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    before = tree(home)
    assert "is your home folder" in build(run, str(home), "--force", code=USAGE)
    assert tree(home) == before


# ---------------------------------------------------------------- file outputs


def test_scrub_out_refuses_a_folder_dot_and_the_workspace(
    run: Run, ws: Path, tmp_path: Path
) -> None:
    (tmp_path / "in.jsonl").write_text('{"text": "mail me at a@example.org"}\n')
    before = tree(notes(tmp_path / "notes.jsonl"))
    cases = {
        "notes.jsonl": "notes.jsonl is a folder",
        ".": "OUT . is the current folder",
        ".consentry/out.jsonl": "is inside the workspace",
        "missing/out.jsonl": "the folder missing does not exist",
    }
    for out, message in cases.items():
        result = run("scrub", "in.jsonl", out, code=USAGE)
        assert message in result.output and "Traceback" not in result.output
    assert tree(tmp_path / "notes.jsonl") == before
    assert not (ws / "out.jsonl").exists()


def test_scrub_leaves_a_partial_it_did_not_write(run: Run, tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"text": "call +33 6 12 34 56 78"}\n')
    (tmp_path / ".out.jsonl.partial").mkdir()  # once an IsADirectoryError
    (tmp_path / ".out.jsonl.partial" / "keep").write_text("mine")
    run("scrub", "in.jsonl", "out.jsonl")
    assert "<PHONE>" in (tmp_path / "out.jsonl").read_text()
    assert (tmp_path / ".out.jsonl.partial" / "keep").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".out.jsonl.partial",
        "in.jsonl",
        "out.jsonl",
    ]


def test_export_out_refuses_a_folder_dot_and_the_workspace(
    run: Run, ws: Path, tmp_path: Path
) -> None:
    before = tree(notes(tmp_path / "notes"))
    cases = {
        "notes": "--out notes is a folder",
        ".": "--out . is the current folder",
        ".consentry/report.json": "is inside the workspace",
    }
    for out, message in cases.items():
        result = run("export", "1001", "--out", out, code=USAGE)
        assert message in result.output and "Traceback" not in result.output
    assert tree(tmp_path / "notes") == before
    run("export", "1001", "--out", "report.json")
    assert json.loads((tmp_path / "report.json").read_text())


def test_demo_generate_keeps_a_folder_that_is_not_a_demo(run: Run, tmp_path: Path) -> None:
    before = tree(notes(tmp_path / "notes"))
    (tmp_path / "file.txt").write_text("x")
    cases = {
        "notes": "--out notes exists and is not a demo platform",
        ".": "--out . is the current folder",
        "file.txt": "--out file.txt is a file",
    }
    for out, message in cases.items():
        result = run("demo", "generate", "--out", out, "--posts", "10", code=USAGE)
        assert message in result.output and "Traceback" not in result.output
    assert tree(tmp_path / "notes") == before
    assert (tmp_path / "file.txt").read_text() == "x"
    run("init")
    inside = run("demo", "generate", "--out", ".consentry/demo", "--posts", "10", code=USAGE)
    assert "is inside the workspace" in inside.output


def test_demo_generate_rewrites_its_own_output(run: Run, tmp_path: Path) -> None:
    run("demo", "generate", "--out", "demo", "--posts", "10", "--seed", "1")
    run("demo", "generate", "--out", "demo", "--posts", "20", "--seed", "1")
    lines = (tmp_path / "demo" / "content.jsonl").read_text().splitlines()
    assert len(lines) == 20


def test_the_filesystem_root_is_refused_for_every_output() -> None:
    # Not through a build: nothing is ever attempted at / in a test.
    with pytest.raises(UsageError, match="is the filesystem root"):
        refuse_protected(Path("/"), role="--out", workspace=None)
    with pytest.raises(UsageError, match="is the filesystem root"):
        refuse_protected(Path("/tmp/.."), role="--out", workspace=None)


#: Every command with a file output, as it is run again by cron: each must replace its own
#: last output and nothing else.
FILE_OUTPUTS = {
    "scrub": ("scrub", "in.jsonl", "{out}", "--format", "jsonl"),
    "export": ("export", "1001", "--out", "{out}"),
    "report": ("report", "--format", "json", "--out", "{out}"),
    "robots": ("signals", "robots", "--out", "{out}"),
    "tdmrep": ("signals", "tdmrep", "--out", "{out}"),
}


@pytest.mark.parametrize("command", sorted(FILE_OUTPUTS))
def test_a_file_output_replaces_only_the_file_consentry_wrote(
    run: Run, ws: Path, tmp_path: Path, command: str
) -> None:
    (tmp_path / "in.jsonl").write_text('{"text": "call +33 6 12 34 56 78"}\n')

    def args(out: str) -> list[str]:
        return [a.format(out=out) for a in FILE_OUTPUTS[command]]

    # Someone's document, a link to it and a device are refused, and left as they were.
    (tmp_path / "thesis.txt").write_text("five years of work\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "thesis.txt")
    refusals = {
        "thesis.txt": "is not a file Consentry wrote",
        "link.txt": "is a symbolic link",
        "/dev/null": "is not a regular file",
    }
    for out, message in refusals.items():
        result = run(*args(out), code=USAGE)
        assert message in result.output and "Traceback" not in result.output
    assert (tmp_path / "thesis.txt").read_text() == "five years of work\n"
    assert (tmp_path / "link.txt").is_symlink()
    # Its own output it replaces, run after run; an empty file (mktemp's) it may fill.
    (tmp_path / "empty.out").write_text("")
    run(*args("empty.out"))
    assert (tmp_path / "empty.out").stat().st_size > 0
    run(*args("out.txt"))
    run(*args("out.txt"))
    # Once changed by hand, the file is no longer Consentry's to replace.
    with (tmp_path / "out.txt").open("a") as fh:
        fh.write("my note\n")
    assert "is not a file Consentry wrote" in run(*args("out.txt"), code=USAGE).output
    assert (tmp_path / "out.txt").read_text().endswith("my note\n")
