"""The Reddit dump parser: Pushshift NDJSON, plain and zstandard, and its bad input.

Rows are written by the tests with the fields Pushshift dumps carry (ids in base 36, times as
epoch seconds — int or string —, ``[deleted]``/``[removed]`` markers). The people are invented.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from consentry.errors import ImportDataError
from consentry.platform.quarantine import Rejection
from consentry.platform.reddit import DELETED_AUTHOR_ID, parse_reddit
from consentry.platform.sources import ParsedRecord, TruncatedInputError, iter_lines

SELF_POST = {
    "id": "16xk2a",
    "name": "t3_16xk2a",
    "author": "Marie_L",
    "author_fullname": "t2_8f3kq",
    "title": "Vélo à Lyon l'hiver ?",
    "selftext": "Des conseils pour rouler quand il gèle &amp; qu'il fait nuit ?",
    "url": "https://www.reddit.com/r/lyon/comments/16xk2a/velo/",
    "is_self": True,
    "subreddit": "lyon",
    "created_utc": 1696150800,
    "retrieved_on": 1696200000,
    "over_18": False,
    "score": 14,
}
LINK_POST = {
    "id": "16xk2b",
    "author": "paul_b",
    "title": "Nouvelle piste cyclable quai Perrache",
    "selftext": "",
    "url": "https://example.org/lyon/piste",
    "is_self": False,
    "subreddit": "lyon",
    "created_utc": "1696154400",
}
COMMENT = {
    "id": "k3b9x1",
    "author": "paul_b",
    "author_created_utc": 1400000000,
    "body": "Des pneus cloutés, et des lumières &gt; 100 lumens.",
    "parent_id": "t3_16xk2a",
    "link_id": "t3_16xk2a",
    "subreddit": "lyon",
    "created_utc": 1696152000.0,
}
NESTED = {
    "id": "k3b9x2",
    "author": "marie_l",
    "body": "Merci !",
    "parent_id": "t1_k3b9x1",
    "link_id": "t3_16xk2a",
    "created_utc": 1696153000,
}
DELETED_BY_AUTHOR = {
    "id": "k3b9x3",
    "author": "[deleted]",
    "body": "[deleted]",
    "parent_id": "t1_k3b9x1",
    "link_id": "t3_16xk2a",
    "created_utc": 1696153500,
    "retrieved_on": 1696240000,
}
REMOVED = {
    "id": "k3b9x4",
    "author": "paul_b",
    "body": "[removed]",
    "parent_id": "k3b9x1",  # an old dump without the type prefix
    "link_id": "16xk2a",
    "created_utc": 1696153600,
}
ORPHANED = {  # the account is gone, the words remain: still deleted content
    "id": "k3b9x5",
    "author": "[deleted]",
    "body": "Le texte est resté",
    "parent_id": "16xk2a",
    "link_id": "16xk2a",
    "created_utc": 1696153700,
}
ROWS = [SELF_POST, LINK_POST, COMMENT, NESTED, DELETED_BY_AUTHOR, REMOVED, ORPHANED]


def ndjson(rows: list[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def zst(data: bytes, *, window_log: int = 28, frames: int = 1) -> bytes:
    """Compressed as Pushshift does: streamed (size unknown) with a large window, so a reader
    that keeps zstd's default window limit cannot open it."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log)
    compressor = zstandard.ZstdCompressor(compression_params=params)
    out = b""
    step = -(-len(data) // frames) or 1
    for start in range(0, max(len(data), 1), step):
        obj = compressor.compressobj()
        out += obj.compress(data[start : start + step]) + obj.flush()
    return out


def parse(path: Path) -> tuple[list[ParsedRecord], list[Rejection]]:
    items = list(parse_reddit(path))
    return (
        [i for i in items if isinstance(i, ParsedRecord)],
        [i for i in items if isinstance(i, Rejection)],
    )


def by_id(records: list[ParsedRecord]) -> dict[str, dict[str, Any]]:
    return {r.record["id"]: r.record for r in records if r.kind == "content"}


@pytest.mark.parametrize("compressed", [False, True])
def test_dump_maps_to_canonical_records(tmp_path: Path, compressed: bool) -> None:
    path = tmp_path / ("RC_2023-10.zst" if compressed else "r_lyon.jsonl")
    path.write_bytes(zst(ndjson(ROWS)) if compressed else ndjson(ROWS))
    records, rejections = parse(path)
    assert rejections == []
    items = by_id(records)

    post = items["t3_16xk2a"]
    assert post == {
        "id": "t3_16xk2a",
        "author_id": "reddit:marie_l",
        "kind": "post",
        "text": (
            "Vélo à Lyon l'hiver ?\n\nDes conseils pour rouler quand il gèle & qu'il fait nuit ?"
        ),
        "created_at": "2023-10-01T09:00:00Z",
        "lang": None,
        "visibility": "public",
        "in_reply_to": None,
        "quote_of": None,
        "repost_of": None,
        "conversation_id": "t3_16xk2a",
        "deleted_at": None,
        "media": None,
        "mentions": [],
    }
    link = items["t3_16xk2b"]
    assert link["text"] == "Nouvelle piste cyclable quai Perrache\n\nhttps://example.org/lyon/piste"
    assert link["created_at"] == "2023-10-01T10:00:00Z"  # created_utc given as a string

    comment = items["t1_k3b9x1"]
    assert (comment["kind"], comment["in_reply_to"], comment["conversation_id"]) == (
        "reply",
        "t3_16xk2a",
        "t3_16xk2a",
    )
    assert comment["text"] == "Des pneus cloutés, et des lumières > 100 lumens."
    assert items["t1_k3b9x2"]["in_reply_to"] == "t1_k3b9x1"
    assert items["t1_k3b9x4"]["in_reply_to"] == "t1_k3b9x1"  # prefix restored
    assert items["t1_k3b9x5"]["in_reply_to"] == "t3_16xk2a"

    # One account per author, whatever the case of the name or author_fullname, before its items.
    accounts = [r.record for r in records if r.kind == "account"]
    assert [a["id"] for a in accounts] == ["reddit:marie_l", "reddit:paul_b", DELETED_AUTHOR_ID]
    assert accounts[0]["handle"] == "Marie_L"
    assert accounts[0]["created_at"] == "2023-10-01T09:00:00Z"  # first seen: no creation time given
    assert accounts[1]["created_at"] == "2023-10-01T10:00:00Z"
    assert accounts[2]["status"] == "deleted"
    first_seen: dict[str, tuple[int, str]] = {}
    for n, r in enumerate(records):
        author = r.record["id"] if r.kind == "account" else r.record["author_id"]
        first_seen.setdefault(author, (n, r.kind))
    assert all(kind == "account" for _, kind in first_seen.values())


def test_deleted_and_removed_become_deleted_content(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(ndjson(ROWS))
    items = by_id(parse(path)[0])
    gone = items["t1_k3b9x3"]
    # Pushshift retrieved it at retrieved_on: the deletion had happened by then.
    assert (gone["author_id"], gone["deleted_at"]) == (DELETED_AUTHOR_ID, "2023-10-02T09:46:40Z")
    assert items["t1_k3b9x4"]["deleted_at"] == "2023-10-01T09:46:40Z"  # no retrieval time: its own
    assert items["t1_k3b9x4"]["author_id"] == "reddit:paul_b"
    assert items["t1_k3b9x5"]["deleted_at"] is not None  # words kept, author gone
    assert items["t3_16xk2a"]["deleted_at"] is None and items["t1_k3b9x1"]["deleted_at"] is None
    removed_post = dict(SELF_POST, id="16xk2c", selftext="[removed]")
    path.write_bytes(ndjson([removed_post]))
    assert by_id(parse(path)[0])["t3_16xk2c"]["deleted_at"] == "2023-10-01T22:40:00Z"


def test_a_folder_of_dumps_and_a_multi_frame_file(tmp_path: Path) -> None:
    (tmp_path / "RS_2023-10.zst").write_bytes(zst(ndjson([SELF_POST, LINK_POST]), frames=2))
    (tmp_path / "RC_2023-10.zst").write_bytes(zst(ndjson([COMMENT, NESTED]), frames=3))
    (tmp_path / "notes.txt").write_text("not read")
    records, rejections = parse(tmp_path)
    assert rejections == []
    assert sorted(by_id(records)) == ["t1_k3b9x1", "t1_k3b9x2", "t3_16xk2a", "t3_16xk2b"]
    assert {r.file for r in records} == {
        "RC_2023-10.zst",
        "RS_2023-10.zst",
    }


# ---- bad input, one by one -----------------------------------------------------------------------


def test_a_broken_json_line_is_rejected_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(ndjson([SELF_POST]) + b'{"id": "x", "body": "cut\n' + ndjson([COMMENT]))
    records, rejections = parse(path)
    assert sorted(by_id(records)) == ["t1_k3b9x1", "t3_16xk2a"]
    (rejection,) = rejections
    assert (rejection.file, rejection.line, rejection.kind) == ("dump.jsonl", 2, "content")
    assert (
        rejection.reason.startswith("invalid JSON") and rejection.raw == '{"id": "x", "body": "cut'
    )


def test_invalid_utf8_rejects_its_line_only(tmp_path: Path) -> None:
    path = tmp_path / "dump.zst"
    bad = ndjson([dict(COMMENT, body="MARK")]).replace(b"MARK", b"caf\xe9")
    path.write_bytes(zst(ndjson([SELF_POST]) + bad + ndjson([NESTED])))
    records, rejections = parse(path)
    assert sorted(by_id(records)) == ["t1_k3b9x2", "t3_16xk2a"]
    (rejection,) = rejections
    assert rejection.line == 2 and "not valid UTF-8" in rejection.reason
    assert rejection.raw is not None and "caf\\xe9" in rejection.raw


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (dict(COMMENT, created_utc="hier"), "created_utc", "not an epoch time"),
        (dict(COMMENT, created_utc=None), "created_utc", "missing"),
        (dict(COMMENT, created_utc=1e20), "created_utc", "out of range"),
        ({k: v for k, v in COMMENT.items() if k != "id"}, "id", "missing"),
        (dict(COMMENT, author=None), "author", "missing"),
        (dict(COMMENT, body=12), "body", "not a string"),
        (dict(COMMENT, parent_id=None), "parent_id", "missing"),
        (dict(SELF_POST, title=["x"]), "title", "not a string"),
        ({"id": "x", "created_utc": 1}, None, "neither a submission"),
        ([1, 2], None, "not a JSON object"),
    ],
)
def test_an_unmappable_row_is_rejected_with_its_field(
    tmp_path: Path, row: Any, field: str | None, reason: str
) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(ndjson([SELF_POST, row]))
    records, rejections = parse(path)
    assert list(by_id(records)) == ["t3_16xk2a"]
    (rejection,) = rejections
    assert (rejection.line, rejection.field) == (2, field)
    assert reason in rejection.reason


def test_a_truncated_zst_keeps_the_lines_before_the_cut(tmp_path: Path) -> None:
    rows = [dict(COMMENT, id=f"c{i}", body=f"commentaire {i} " * 20) for i in range(2000)]
    data = zst(ndjson(rows))
    path = tmp_path / "RC_cut.zst"
    path.write_bytes(data[: len(data) // 2])
    records, rejections = parse(path)
    kept = by_id(records)
    assert 0 < len(kept) < 2000
    assert list(kept) == [f"t1_c{i}" for i in range(len(kept))]  # a prefix, in order
    last = rejections[-1]
    assert "truncated" in last.reason and last.file == "RC_cut.zst"
    # the partial line at the cut is rejected too, never imported half
    assert len(kept) + len(rejections) <= 2001


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (bytes(range(256)) * 16, "not a Reddit dump"),
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"\x1f\x8b\x08\x00gzip", "not a Reddit dump"),
        (zst(b"")[:6], "nothing could be read"),
    ],
)
def test_what_is_not_a_dump_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "dump.zst"
    path.write_bytes(content)
    with pytest.raises(ImportDataError) as info:
        parse_reddit(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_a_folder_without_dumps_and_a_missing_path_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ImportDataError, match="no Reddit dump inside"):
        parse_reddit(tmp_path)
    with pytest.raises(ImportDataError, match="no such file or folder"):
        parse_reddit(tmp_path / "nope.zst")


# ---- the line reader -----------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_lines_over_the_limit_are_skipped_not_held(compressed: bool) -> None:
    data = b"short\n" + b"x" * 5000 + b"\nok\n" + b"y" * 5000
    raw = io.BytesIO(zst(data) if compressed else data)
    assert list(iter_lines(raw, max_line=100)) == [(1, b"short"), (2, None), (3, b"ok"), (4, None)]


def test_lines_span_chunks_and_the_last_needs_no_newline() -> None:
    data = b"".join(b"line %d " % i * (i % 50) + b"\n" for i in range(20000)) + b"tail"
    got = list(iter_lines(io.BytesIO(zst(data, frames=7))))
    assert [line for _, line in got] == data.split(b"\n")
    assert [n for n, _ in got] == list(range(1, 20002))


def test_a_cut_frame_is_reported_after_the_last_good_line() -> None:
    data = zst(b"a\n" * 100000)
    got: list[tuple[int, bytes | None]] = []
    with pytest.raises(TruncatedInputError):
        got.extend(iter_lines(io.BytesIO(data[:-3])))
    assert got and all(line == b"a" for _, line in got[:-1])


# ---- into a workspace ----------------------------------------------------------------------------


def test_import_into_a_workspace_counts_add_up_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    from consentry.platform.reddit import import_reddit
    from consentry.workspace import Workspace

    path = tmp_path / "RC_2023-10.zst"
    path.write_bytes(zst(ndjson(ROWS) + b"{broken\n"))
    ws = Workspace.init(tmp_path / "ws")
    first = import_reddit(ws, path)
    total = first.total
    # 3 accounts (two people and the placeholder) + 7 items + 1 broken line.
    assert (total.read, total.imported, total.unchanged, total.rejected) == (11, 10, 0, 1)
    assert first.quarantine is not None
    assert '"line": 8' in first.quarantine.read_text("utf-8")
    again = import_reddit(ws, path).total
    assert (again.read, again.imported, again.unchanged, again.rejected) == (11, 0, 10, 1)


def test_cli_imports_a_dump_and_fails_when_nothing_could_be_read(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from consentry.cli.main import app
    from consentry.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    runner = CliRunner()
    good = tmp_path / "RC_2023-10.zst"
    good.write_bytes(zst(ndjson(ROWS)))
    result = runner.invoke(app, ["import", "reddit", str(good), "-w", str(ws.root)])
    assert result.exit_code == 0, result.output

    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b'{"id": 1\n{"title": \n')
    result = runner.invoke(app, ["import", "reddit", str(broken), "-w", str(ws.root)])
    assert result.exit_code == 8, result.output
    assert "nothing could be read" in result.output

    noise = tmp_path / "noise.zst"
    noise.write_bytes(bytes(range(256)))
    result = runner.invoke(app, ["import", "reddit", str(noise), "-w", str(ws.root)])
    assert result.exit_code == 8 and "not a Reddit dump" in result.output


def test_quoted_lines_are_someone_elses_words_and_left_out(tmp_path: Path) -> None:
    body = (
        "&gt; ton vélo est trop lourd\n&gt;\n&gt; vraiment\n\nPas du tout.\n\n"
        "  > encore\nVoilà &gt; 3 kg."
    )
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(COMMENT | {"body": body}) + "\n", "utf-8")
    records, _ = parse(path)
    (item,) = [r.record for r in records if r.kind == "content"]
    assert item["text"] == "Pas du tout.\n\nVoilà > 3 kg."


def test_poll_options_are_the_authors_words(tmp_path: Path) -> None:
    options = [{"id": "1", "text": "Oui"}, {"id": "2", "text": 5}, {"id": "3", "text": "Non "}]
    poll = SELF_POST | {"selftext": "[View Poll](https://www.reddit.com/poll/x)"}
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(poll | {"poll_data": {"options": options}}) + "\n", "utf-8")
    records, rejections = parse(path)
    (item,) = [r.record for r in records if r.kind == "content"]
    assert rejections == [] and item["text"].endswith("\n\nOui\nNon")


def test_an_optional_text_of_the_wrong_type_is_dropped_with_a_warning(tmp_path: Path) -> None:
    from consentry.platform.report import ImportWarning

    path = tmp_path / "dump.jsonl"
    path.write_bytes(ndjson([dict(LINK_POST, url=["x"]), dict(SELF_POST, selftext=False)]))
    items = list(parse_reddit(path))
    records = [i for i in items if isinstance(i, ParsedRecord) and i.kind == "content"]
    assert [r.record["text"] for r in records] == [LINK_POST["title"], SELF_POST["title"]]
    assert [(w.line, w.field) for w in items if isinstance(w, ImportWarning)] == [
        (1, "url"),
        (2, "selftext"),
    ]
