"""``consentry scrub IN OUT``: round trips in both formats; errors name file, line, field."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from consentry.cli.main import app
from consentry.scrub import Pseudonymiser
from consentry.workspace import Workspace

runner = CliRunner()


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_jsonl_keeps_other_fields_and_adds_pii(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "1", "text": "mail a@b.fr @bob", "lang": "fr", "n": 3},
            {"id": "2", "text": None},
            {"id": "3", "text": "rien", "pii": ["stale"]},
        ],
    )
    result = runner.invoke(app, ["scrub", str(src), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert "Scrubbed 3 rows" in result.output
    assert read_jsonl(tmp_path / "out.jsonl") == [
        {
            "id": "1",
            "text": "mail <EMAIL> @<USER>",
            "lang": "fr",
            "n": 3,
            "pii": ["handle", "email"],
        },
        {"id": "2", "text": None, "pii": []},
        {"id": "3", "text": "rien", "pii": []},
    ]


def test_parquet_round_trip_with_another_text_column(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [1, 2], "body": ["06 12 34 56 78", "ok"]}), src)
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["scrub", str(src), str(out), "--text-column", "body"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column_names == ["id", "body", "pii"]
    assert table.to_pylist() == [
        {"id": 1, "body": "<PHONE>", "pii": ["phone"]},
        {"id": 2, "body": "ok", "pii": []},
    ]


def test_jsonl_to_parquet_by_extension(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "8.8.8.8"}])
    out = tmp_path / "out.parquet"
    assert runner.invoke(app, ["scrub", str(src), str(out), "--batch-size", "1"]).exit_code == 0
    assert pq.read_table(out).to_pylist() == [{"text": "<IP>", "pii": ["ip"]}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"text": "ok"}\n{"id": 2}\n', "in.jsonl:2: no field 'text'"),
        (b'{"text": "ok"}\n{"text": 12}\n', "in.jsonl:2: field 'text' is a number, not a string"),
        (b'{"text": "ok"}\n\n{"text": "caf\xe9"}\n', "in.jsonl:3: invalid UTF-8 at byte 14"),
        (b'{"text": "ok"\n', "in.jsonl:1: not valid JSON"),
        (b'["text"]\n', "in.jsonl:1: expected a JSON object, found a list"),
    ],
)
def test_jsonl_errors_name_file_line_and_field(
    tmp_path: Path, content: bytes, message: str
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(content)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["scrub", str(src), str(out)])
    assert result.exit_code == 8
    assert message in " ".join(result.output.split())
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]  # no partial file left behind


def test_parquet_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), src)
    result = runner.invoke(app, ["scrub", str(src), str(tmp_path / "o.parquet")])
    assert result.exit_code == 8
    assert "column 'text' is int64, not a string" in result.output
    result = runner.invoke(app, ["scrub", str(src), str(tmp_path / "o.parquet"), "-c", "body"])
    assert "no column 'body' (columns: text)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["in.txt", "out.jsonl"], "cannot tell the format"),
        (["missing.jsonl", "out.jsonl"], "no such file"),
        (["in.jsonl", "out.jsonl", "--format", "csv"], "--format must be one of"),
        (["in.jsonl", "out.jsonl", "--recipient", "acme"], "--recipient needs --accounts"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    (tmp_path / "in.txt").write_text("x")
    full = [str(tmp_path / a) if a.endswith((".jsonl", ".txt")) else a for a in args]
    result = runner.invoke(app, ["scrub", *full])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_accounts_pseudonymise_mentions_with_the_workspace_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONSENTRY_SECRET", raising=False)
    ws = Workspace.init(tmp_path / "ws")
    accounts = write_jsonl(tmp_path / "accounts.jsonl", [{"id": "1001", "handle": "Alice"}])
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "merci @alice et @bob"}])
    out = tmp_path / "out.jsonl"
    args = ["scrub", str(src), str(out), "--accounts", str(accounts), "-w", str(ws.root)]
    result = runner.invoke(app, [*args, "--recipient", "acme"])
    assert result.exit_code == 0, result.output
    pseudonym = Pseudonymiser(ws.secret(), "acme").account("1001")
    assert read_jsonl(out)[0]["text"] == f"merci @{pseudonym} et @<USER>"
    secret_hex = ws.secret().hex()
    assert secret_hex not in result.output and secret_hex not in out.read_text()


def test_help_has_an_example() -> None:
    result = runner.invoke(app, ["scrub", "--help"])
    assert result.exit_code == 0
    assert "Example: consentry scrub" in " ".join(result.output.split())
