"""Bad input, one case at a time: each refused row lands in quarantine with file, line, field
and reason; its neighbours are imported; both import paths say the same thing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.content import ContentStore
from consentry.platform.canonical import import_canonical
from consentry.platform.fields import RecordKind
from consentry.platform.ingest import Ingest
from consentry.platform.jsonl import import_jsonl
from consentry.platform.quarantine import RAW_LIMIT, read_quarantine
from consentry.workspace import Workspace

from .conftest import MakeExport, account, decision, item, write_lines

GOOD_BEFORE = json.dumps(item(1))
GOOD_AFTER = json.dumps(item(3))

# (case, the bad line as written, field, words of the reason)
LINES: list[tuple[str, bytes, str | None, str]] = [
    (
        "invalid UTF-8",
        json.dumps(item(2, text="café")).encode().replace(b"caf\\u00e9", b"caf\xe9"),
        "text",
        "invalid UTF-8",
    ),
    ("broken JSON", b'{"id": "90002", "author_id": "1001", "kind": ', None, "broken JSON"),
    ("not an object", b'["90002", "1001"]', None, "not a JSON object"),
    ("two objects on a line", (GOOD_AFTER + " " + GOOD_AFTER).encode(), None, "broken JSON"),
    (
        "missing id",
        json.dumps({k: v for k, v in item(2).items() if k != "id"}).encode(),
        "id",
        "missing id",
    ),
    ("empty id", json.dumps(item(2, id="")).encode(), "id", "missing id"),
    # PostgreSQL cannot store a NUL, SQLite can: refused on both, as everywhere else ids enter.
    ("NUL in an id", json.dumps(item(2, id="900\u000002")).encode(), "id", "control character"),
    (
        "unknown author",
        json.dumps(item(2, author=99)).encode(),
        "author_id",
        "unknown author '1099'",
    ),
    ("unknown kind", json.dumps(item(2, kind="story")).encode(), "kind", "unknown kind 'story'"),
    (
        "impossible date",
        json.dumps(item(2, created_at="2024-02-30T10:00:00Z")).encode(),
        "created_at",
        "impossible date '2024-02-30T10:00:00Z'",
    ),
    (
        "time without offset",
        json.dumps(item(2, created_at="2024-02-28T10:00:00")).encode(),
        "created_at",
        "not an RFC 3339 time with offset",
    ),
    (
        "time in the future",
        json.dumps(item(2, created_at="2999-01-01T00:00:00Z")).encode(),
        "created_at",
        "in the future",
    ),
    (
        "wrong type: id as a number",
        json.dumps(item(2, id=90002)).encode(),
        "id",
        "ids must be strings",
    ),
    (
        "wrong type: text as a list",
        json.dumps(item(2, text=["a"])).encode(),
        "text",
        "must be a string",
    ),
    (
        "text over the limit",
        json.dumps(item(2, text="é" * 25_001)).encode(),
        "text",
        "text is 25,001 characters, over the limit of 25,000",
    ),
    (
        "deleted before created",
        json.dumps(item(2, deleted_at="2020-01-01T00:00:00Z")).encode(),
        "deleted_at",
        "deleted_at is before created_at",
    ),
    (
        "unknown visibility",
        json.dumps(item(2, visibility="world")).encode(),
        "visibility",
        "unknown visibility 'world'",
    ),
]


@pytest.mark.parametrize(("case", "bad", "field", "reason"), LINES, ids=[c[0] for c in LINES])
def test_a_bad_line_is_quarantined_and_its_neighbours_imported(
    workspace: Workspace,
    make_export: MakeExport,
    case: str,
    bad: bytes,
    field: str | None,
    reason: str,
) -> None:
    export = make_export(accounts=[account(1), account(2)], content=[GOOD_BEFORE, bad, GOOD_AFTER])
    report = import_canonical(workspace, export)
    content = report.by_file["content.jsonl"]
    assert (content.read, content.imported, content.rejected) == (3, 2, 1), case
    assert content.adds_up
    assert report.quarantine is not None
    [rejected] = read_quarantine(report.quarantine)
    assert (rejected.file, rejected.line, rejected.field, rejected.kind) == (
        "content.jsonl",
        2,
        field,
        "content",
    )
    assert reason in rejected.reason
    as_read = bad.decode("utf-8", "backslashreplace")  # the line as it was, capped
    assert rejected.raw == (as_read if len(as_read) <= RAW_LIMIT else as_read[:RAW_LIMIT] + "…")
    ids = [
        r["content_id"]
        for b in ContentStore(workspace.content_dir).scan(["content_id"])
        for r in b.to_pylist()
    ]
    assert sorted(ids) == ["90001", "90003"]


# Value rules, through the per-record path: the same field and words as the fast path.
RECORDS = [c for c in LINES if c[2] is not None and c[0] != "invalid UTF-8"]


@pytest.mark.parametrize(("case", "bad", "field", "reason"), RECORDS, ids=[c[0] for c in RECORDS])
def test_the_per_record_path_says_the_same(
    workspace: Workspace, case: str, bad: bytes, field: str | None, reason: str
) -> None:
    with Ingest(workspace, source="test") as ingest:
        ingest.account(account(1), file="a", line=1)
        ingest.content(item(1), file="c", line=1)
        ingest.content(json.loads(bad), file="c", line=2)
        report = ingest.finish()
    assert report.by_kind["content"].rejected == 1 and report.by_kind["content"].imported == 1
    assert report.quarantine is not None
    [rejected] = read_quarantine(report.quarantine)
    assert (rejected.file, rejected.line, rejected.field) == ("c", 2, field)
    assert reason in rejected.reason


# Other kinds of records.
OTHER: list[tuple[str, dict[str, Any], str, str]] = [
    ("accounts", account(5, country="XX"), "country", "unknown country code 'XX'"),
    ("accounts", account(5, birth_date="1990-02-30"), "birth_date", "impossible date"),
    ("accounts", account(5, birth_date="1850-01-01"), "birth_date", "before 1900"),
    ("accounts", account(5, status="banned"), "status", "unknown status 'banned'"),
    ("accounts", account(5, handle="two words"), "handle", "contains whitespace"),
    ("accounts", account(5, protected="yes"), "protected", "must be true or false"),
    ("accounts", {**account(5), "handle": None}, "handle", "missing handle"),
    ("consent", decision(1, purpose="advertising"), "purpose", "unknown purpose 'advertising'"),
    ("consent", decision(1, decision="maybe"), "decision", "unknown decision 'maybe'"),
    ("consent", decision(1, scope="everything"), "scope", "unknown scope 'everything'"),
    ("consent", decision(1, source="fax"), "source", "unknown source 'fax'"),
    (
        "consent",
        decision(1, recipient="acme-ai"),
        "recipient",
        "only a share decision can name a recipient",
    ),
    ("consent", decision(1, at="2024-13-01T00:00:00Z"), "at", "impossible date"),
    (
        "interactions",
        {"account_id": "1099", "content_id": "90001", "kind": "like", "at": "2024-07-26T13:00:00Z"},
        "account_id",
        "unknown account '1099'",
    ),
    (
        "interactions",
        {
            "account_id": "1001",
            "content_id": "90001",
            "kind": "retweet",
            "at": "2024-07-26T13:00:00Z",
        },
        "kind",
        "unknown interaction kind 'retweet'",
    ),
]


@pytest.mark.parametrize(("file", "bad", "field", "reason"), OTHER)
def test_other_records_refused_with_field_and_reason(
    workspace: Workspace,
    make_export: MakeExport,
    file: str,
    bad: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    files: dict[str, list[Any]] = {"accounts": [account(1)], "content": [item(1)]}
    files.setdefault(file, []).append(bad)
    report = import_canonical(workspace, make_export(**files))
    assert report.total.rejected == 1
    assert report.quarantine is not None
    [rejected] = read_quarantine(report.quarantine)
    assert (rejected.file, rejected.field) == (f"{file}.jsonl", field)
    assert reason in rejected.reason


def test_a_file_that_is_not_jsonl_at_all(workspace: Workspace, make_export: MakeExport) -> None:
    export = make_export(accounts=[account(1)])
    (export / "content.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01")
    report = import_canonical(workspace, export)
    content = report.by_file["content.jsonl"]
    assert content.read == content.rejected == 3 and content.imported == 0  # 3 "lines"
    assert report.quarantine is not None
    assert all(r.field is None for r in read_quarantine(report.quarantine))


def test_blank_lines_are_not_rows(workspace: Workspace, make_export: MakeExport) -> None:
    export = make_export(
        accounts=[account(1)], content=["", json.dumps(item(1)), "  ", json.dumps(item(2, id=5))]
    )
    report = import_canonical(workspace, export)
    content = report.by_file["content.jsonl"]
    assert (content.read, content.imported, content.rejected) == (2, 1, 1)
    assert report.quarantine is not None
    [rejected] = read_quarantine(report.quarantine)
    assert rejected.line == 4  # blank lines still count as lines


def test_a_line_longer_than_a_block(workspace: Workspace, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "content.jsonl",
        [json.dumps(item(1)), json.dumps(item(2, text="y" * 3000)), json.dumps(item(3))],
    )
    with Ingest(workspace, source="test", max_text_chars=100) as ingest:
        ingest.account(account(1), file="a", line=1)
        import_jsonl(ingest, path, RecordKind.CONTENT, file="content.jsonl", block_bytes=64)
        report = ingest.finish()
    c = report.by_file["content.jsonl"]
    assert (c.read, c.imported, c.rejected) == (3, 2, 1)


def test_a_runaway_line_is_refused_without_being_held_whole(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consentry.platform import jsonl

    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 200)  # stands for 64 MB
    path = write_lines(
        tmp_path / "content.jsonl",
        [json.dumps(item(1)), "{" + "x" * 5000, json.dumps(item(3)), "y" * 300],
    )
    with Ingest(workspace, source="test") as ingest:
        ingest.account(account(1), file="a", line=1)
        import_jsonl(ingest, path, RecordKind.CONTENT, file="content.jsonl", block_bytes=64)
        report = ingest.finish()
    c = report.by_file["content.jsonl"]
    assert (c.read, c.imported, c.rejected) == (4, 2, 2)
    assert report.quarantine is not None
    rejected = read_quarantine(report.quarantine)
    assert [(r.line, r.reason) for r in rejected] == [
        (2, "line longer than 200 bytes"),
        (4, "line longer than 200 bytes"),
    ]


# ---- any mix of good and bad lines --------------------------------------------------------------

BROKEN = [
    b"{",
    b"\xff\xfe{}",
    b'{"id": 5}',
    b'{"id": "x", "author_id": "1001"}',
    json.dumps(item(0, author=42)).encode(),
    json.dumps(item(0, kind="story")).encode(),
    json.dumps(item(0, created_at="2023-02-29T00:00:00Z")).encode(),
    b"null",
    b'"just a string"',
]


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(
        st.one_of(st.integers(0, len(BROKEN) - 1).map(lambda i: ("bad", i)), st.just(("good", 0))),
        min_size=1,
        max_size=40,
    ),
    block=st.sampled_from([64, 300, 1 << 20]),
)
def test_every_good_line_is_imported_and_every_bad_one_quarantined(
    tmp_path_factory: pytest.TempPathFactory, lines: list[tuple[str, int]], block: int
) -> None:
    ws = Workspace.init(tmp_path_factory.mktemp("ws") / "ws")
    raw: list[bytes] = []
    good_ids, bad_lines = [], []
    for n, (what, which) in enumerate(lines, 1):
        if what == "good":
            raw.append(json.dumps(item(n)).encode())
            good_ids.append(item(n)["id"])
        else:
            raw.append(BROKEN[which])
            bad_lines.append(n)
    path = write_lines(tmp_path_factory.mktemp("in") / "content.jsonl", raw)
    with Ingest(ws, source="test") as ingest:
        ingest.account(account(1), file="a", line=1)
        import_jsonl(ingest, path, RecordKind.CONTENT, file="content.jsonl", block_bytes=block)
        report = ingest.finish()
    c = report.by_file["content.jsonl"]
    assert c.adds_up
    assert (c.read, c.imported, c.rejected) == (len(lines), len(good_ids), len(bad_lines))
    stored = [
        r["content_id"]
        for b in ContentStore(ws.content_dir).scan(["content_id"])
        for r in b.to_pylist()
    ]
    assert sorted(stored) == sorted(good_ids)
    if bad_lines:
        assert report.quarantine is not None
        assert sorted(r.line for r in read_quarantine(report.quarantine)) == bad_lines  # type: ignore[type-var]
    else:
        assert report.quarantine is None
