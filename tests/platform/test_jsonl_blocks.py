"""Blocks of whole lines (``jsonl.read_blocks``) and the pre-check that keeps a line holding only
``null`` away from pyarrow's JSON reader (it crashes on one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from consentry.platform.jsonl import Block, _may_hold_null_line, read_blocks


def blocks(tmp_path: Path, data: bytes, size: int = 1 << 20) -> Iterator[Block]:
    """Each block is valid until the next one is asked for (its buffer is reused)."""
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    return (b for b in read_blocks(path, size) if isinstance(b, Block))


@pytest.mark.parametrize(
    ("data", "null_line"),
    [
        (b'{"a": null}\n{"b": 1}\n', False),
        (b'{"a": null}\n{"b": 1}', False),
        (b"null\n", True),
        (b'{"a": 1}\nnull', True),
        (b'{"a": 1}\nnull \t\r\n{"b": 2}\n', True),
        (b'{"a": 1}\n\n{"b": 2}\n', False),  # a blank line: the exact scan says no
        (b'{"a": "null"}\r\n', False),
    ],
)
def test_null_line_check(tmp_path: Path, data: bytes, null_line: bool) -> None:
    assert any(_may_hold_null_line(b) for b in blocks(tmp_path, data)) is null_line


def test_blocks_count_their_lines(tmp_path: Path) -> None:
    data = b"".join(b'{"n": %d}\n' % i for i in range(100)) + b'{"n": 100}'
    line = 1
    for b in blocks(tmp_path, data, size=64):
        assert b.first_line == line
        assert all(b.data[int(e)] == 0x0A for e in b.ends)
        text = bytes(b.data)
        assert b.lines == (text.count(b"\n") if text.endswith(b"\n") else 1)
        line += b.lines
    assert line == 102
