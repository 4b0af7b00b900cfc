"""docs/canonical-format.md and docs/snapshot-format.md say what the code does: their tables hold
exactly the fields the code reads and writes, their example imports as they say, and the code
cites them (not a design note outside the repository)."""

from __future__ import annotations

import dataclasses
import json
import re
from enum import StrEnum
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentry.model import ContentKind, Decision, InteractionKind, Scope, Source, Visibility
from consentry.platform.canonical import CANONICAL_FILES
from consentry.platform.fields import FIELDS, RecordKind
from consentry.snapshot.manifest import Manifest
from consentry.snapshot.records import INTERACTION_SCHEMA, RECORD_SCHEMA

from .cli.conftest import Run
from .cli.conftest import run as run  # the `run` fixture: `consentry ARGS…` in a fresh folder

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CANONICAL = DOCS / "canonical-format.md"
SNAPSHOT = DOCS / "snapshot-format.md"


def section(path: Path, heading: str) -> str:
    text = path.read_text("utf-8")
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``text``, as cells."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in row.strip("|").split(" | ")] for row in rows[2:]]


def names(cells: list[list[str]]) -> list[str]:
    return [re.sub(r"^`([^`]+)`$", r"\1", row[0]) for row in cells]


@pytest.mark.parametrize(("stem", "kind"), CANONICAL_FILES, ids=[s for s, _ in CANONICAL_FILES])
def test_each_file_table_holds_the_fields_the_validator_reads(stem: str, kind: RecordKind) -> None:
    rows = table_rows(section(CANONICAL, f"## {stem}.jsonl"))
    documented = {name: row[2] for name, row in zip(names(rows), rows, strict=True)}
    specs = FIELDS[kind]
    assert list(documented) == [s.name for s in specs], f"{CANONICAL.name}: {stem}.jsonl's table"
    for spec in specs:
        assert documented[spec.name] == ("yes" if spec.required else "no"), spec.name


@pytest.mark.parametrize(
    "values", [ContentKind, Visibility, InteractionKind, Decision, Source, Scope]
)
def test_every_allowed_value_is_named(values: type[StrEnum]) -> None:
    text = CANONICAL.read_text("utf-8")
    missing = [v.value for v in values if f"`{v.value}`" not in text]
    assert not missing, f"{CANONICAL.name} does not name {missing}"


def _arrow_name(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}, tz={t.tz}]"
    if pa.types.is_list(t):
        return f"list<{t.value_type}>"
    return str(t)


@pytest.mark.parametrize(
    ("heading", "schema"),
    [
        ("## Records (`data/part-*.parquet`)", RECORD_SCHEMA),
        ("## Interactions (`interactions/part-00000.parquet`)", INTERACTION_SCHEMA),
    ],
)
def test_snapshot_columns_are_the_written_ones(heading: str, schema: pa.Schema) -> None:
    rows = table_rows(section(SNAPSHOT, heading))
    documented = [(name, row[1].strip("`")) for name, row in zip(names(rows), rows, strict=True)]
    assert documented == [(f.name, _arrow_name(f.type)) for f in schema]


def test_manifest_keys_are_the_written_ones() -> None:
    rows = table_rows(section(SNAPSHOT, "## manifest.json").split("```\n", 2)[-1])
    assert sorted(names(rows)) == sorted(f.name for f in dataclasses.fields(Manifest))


def test_the_whole_example_imports_and_builds_as_the_page_says(run: Run, tmp_path: Path) -> None:
    blocks = re.findall(r"```json\n(.*?)```", section(CANONICAL, "## A whole example"), re.S)
    assert len(blocks) == len(CANONICAL_FILES)
    export = tmp_path / "export"
    export.mkdir()
    for (stem, _), block in zip(CANONICAL_FILES, blocks, strict=True):
        (export / f"{stem}.jsonl").write_text(block, "utf-8")
    run("init")
    run("import", "canonical", str(export), "--strict")
    run("snapshot", "build", "--purpose", "train", "--out", "snap")
    manifest = json.loads((tmp_path / "snap" / "manifest.json").read_text("utf-8"))
    assert manifest["counts"]["excluded"] == {
        "no_consent": 2,  # Bob's post, and Alice's repost of it
        "consent_denied": 2,  # Alice's chatbot conversation
        "direct_message": 1,
    }
    assert manifest["counts"]["interactions"] == {"input": 1, "included": 0}
    (record,) = pq.read_table(tmp_path / "snap" / "data").to_pylist()
    assert record["kind"] == "reply" and record["in_reply_to"] is None
    assert record["text"].startswith("merci @u_") and record["pii"] == ["handle"]


def test_the_code_cites_docs_that_exist() -> None:
    cited: set[str] = set()
    for folder in ("src", "tests", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text("utf-8")
            assert "DESIGN" + ".md" not in text, f"{path.relative_to(ROOT)} cites a note outside"
            cited.update(re.findall(r"docs/[\w/-]+\.md", text))
    assert cited, "the code cites its docs"
    missing = sorted(c for c in cited if not (ROOT / c).is_file())
    assert not missing, f"cited but absent: {missing}"
