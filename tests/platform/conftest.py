"""Workspaces and small canonical exports for the import tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from consentry.workspace import Workspace

Record = dict[str, Any]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.init(tmp_path / "ws")


def account(i: int, **over: Any) -> Record:
    rec: Record = {
        "id": f"10{i:02d}",
        "handle": f"user{i}",
        "display_name": f"User {i}",
        "created_at": "2021-03-04T10:00:00Z",
        "country": "FR",
        "birth_date": "1990-05-01",
        "protected": False,
        "status": "active",
    }
    rec.update(over)
    return rec


def item(i: int, author: int = 1, **over: Any) -> Record:
    rec: Record = {
        "id": f"90{i:03d}",
        "author_id": f"10{author:02d}",
        "kind": "post",
        "text": f"post number {i} @user2",
        "created_at": "2024-07-26T12:40:00Z",
        "lang": "fr",
        "visibility": "public",
    }
    rec.update(over)
    return rec


def decision(author: int = 1, **over: Any) -> Record:
    rec: Record = {
        "account_id": f"10{author:02d}",
        "purpose": "train",
        "decision": "grant",
        "at": "2024-07-27T08:00:00Z",
        "source": "web",
    }
    rec.update(over)
    return rec


def like(i: int, liker: int = 2, **over: Any) -> Record:
    rec: Record = {
        "account_id": f"10{liker:02d}",
        "content_id": f"90{i:03d}",
        "kind": "like",
        "at": "2024-07-26T13:00:00Z",
    }
    rec.update(over)
    return rec


def write_lines(path: Path, lines: Iterable[str | bytes]) -> Path:
    data = b"".join((x if isinstance(x, bytes) else x.encode("utf-8")) + b"\n" for x in lines)
    path.write_bytes(data)
    return path


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    return write_lines(path, (json.dumps(r, ensure_ascii=False) for r in records))


MakeExport = Callable[..., Path]


@pytest.fixture
def make_export(tmp_path: Path) -> MakeExport:
    """Write a canonical export folder: ``make_export(accounts=[…], content=[…], …)``; a value
    that is a list of str/bytes is written as raw lines."""
    counter = [0]

    def make(**files: list[Any]) -> Path:
        counter[0] += 1
        folder = tmp_path / f"export{counter[0]}"
        folder.mkdir()
        names = {
            "accounts": "accounts",
            "content": "content",
            "consent": "consent",
            "interactions": "interactions",
        }
        for key, rows in files.items():
            path = folder / f"{names[key]}.jsonl"
            if rows and isinstance(rows[0], str | bytes):
                write_lines(path, rows)
            else:
                write_jsonl(path, rows)
        return folder

    return make


def read_jsonl(path: Path) -> list[Record]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
