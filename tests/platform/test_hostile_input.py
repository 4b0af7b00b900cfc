"""Input written to hurt the importers: JSON nested too deep, links out of the archive, data
that is not what the command was told it is. Each is refused with a reason naming the file, and
what is valid around it is still imported."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from consentry.errors import ImportDataError
from consentry.platform.canonical import import_canonical
from consentry.platform.jsontext import TOO_DEEP
from consentry.platform.mastodon import import_mastodon, parse_mastodon
from consentry.platform.quarantine import Rejection, read_quarantine
from consentry.platform.reddit import import_reddit
from consentry.platform.sources import JsonStream
from consentry.platform.x_archive import import_x_archive
from consentry.workspace import Workspace

from .test_mastodon import ACTOR, AS_PUBLIC, FOLLOWERS, make_export, outbox, status
from .test_reddit import COMMENT, SELF_POST, ndjson
from .test_x_archive import ACCOUNT, make_archive, tweet, ytd

#: 200,000 levels: far past any parser's recursion limit (the issue's case).
DEPTH = 200_000
DEEP = "[" * DEPTH + "]" * DEPTH
#: Brackets inside strings must not count when the end of a too-deep value is looked for.
DEEP_OBJECT = '{"a": "]]}}\\"[", "b": ' + "[" * DEPTH + '"x]"' + "]" * DEPTH + "}"


def rejections_of(ws: Workspace, report_quarantine: Path | None) -> list[Rejection]:
    assert report_quarantine is not None
    return read_quarantine(report_quarantine)


# ---- JSON nested too deep ----------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [64, 4096, 1 << 20])
@pytest.mark.parametrize("deep", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_stream_skips_a_too_deep_element_and_reads_the_next(chunk: int, deep: str) -> None:
    text = f'[1,\n{deep},\n{{"after": true}}]'
    stream = JsonStream(io.BytesIO(text.encode()), chunk_size=chunk)
    items = list(stream.items())
    stream.end()
    assert [i.value for i in items] == [1, None, {"after": True}]
    assert items[1].refusal == TOO_DEEP and items[1].line == 2 and items[1].raw is None
    assert items[2].line == 3 and items[2].refusal is None


def test_stream_gives_up_on_a_too_deep_element_that_never_ends() -> None:
    from consentry.platform.sources import JsonStreamError

    stream = JsonStream(io.BytesIO(b"[" * DEPTH), chunk_size=4096, max_element=50_000)
    with pytest.raises(JsonStreamError, match="nested too deeply"):
        list(stream.items())


def test_x_archive_rejects_a_too_deep_tweet_and_imports_the_others(tmp_path: Path) -> None:
    first, last = tweet("1697000000000000001", "avant"), tweet("1697000000000000003", "après")
    body = ytd("tweets", [first, "DEEP", last]).replace('"DEEP"', DEEP)
    archive = make_archive(
        tmp_path, {"data/account.js": ytd("account", [ACCOUNT]), "data/tweets.js": body}
    )
    ws = Workspace.init(tmp_path / "ws")
    report = import_x_archive(ws, archive)
    counts = report.by_file["data/tweets.js"]
    assert (counts.read, counts.imported, counts.rejected) == (3, 2, 1)
    (rejection,) = rejections_of(ws, report.quarantine)
    assert rejection.file == "data/tweets.js" and rejection.reason == TOO_DEEP
    assert rejection.line == body[: body.index("[[[")].count("\n") + 1


def test_mastodon_rejects_a_too_deep_activity_and_imports_the_others(tmp_path: Path) -> None:
    good = status(1, "<p>bonjour</p>", to=[AS_PUBLIC], cc=[FOLLOWERS])
    text = outbox([good, "DEEP", status(2, "<p>re</p>", to=[AS_PUBLIC], cc=[])])
    export = make_export(
        tmp_path,
        {"actor.json": json.dumps(ACTOR), "outbox.json": text.replace('"DEEP"', DEEP_OBJECT)},
        zipped=True,
    )
    ws = Workspace.init(tmp_path / "ws")
    report = import_mastodon(ws, export)
    assert (report.total.imported, report.total.rejected) == (3, 1)  # the account + 2 posts
    (rejection,) = rejections_of(ws, report.quarantine)
    assert (rejection.file, rejection.line, rejection.reason) == ("outbox.json", 2, TOO_DEEP)


def test_mastodon_refuses_a_too_deep_actor_naming_the_file(tmp_path: Path) -> None:
    export = make_export(tmp_path, {"actor.json": DEEP, "outbox.json": outbox([])}, zipped=False)
    with pytest.raises(ImportDataError, match=r"actor\.json: JSON nested too deeply"):
        list(parse_mastodon(export))


def test_reddit_rejects_a_too_deep_line_and_imports_the_others(tmp_path: Path) -> None:
    dump = tmp_path / "r_lyon.jsonl"
    dump.write_bytes(ndjson([SELF_POST]) + DEEP.encode() + b"\n" + ndjson([COMMENT]))
    ws = Workspace.init(tmp_path / "ws")
    report = import_reddit(ws, dump)
    assert report.total.rejected == 1 and report.total.imported == 4  # 2 accounts, 2 items
    (rejection,) = rejections_of(ws, report.quarantine)
    assert (rejection.file, rejection.line, rejection.reason) == ("r_lyon.jsonl", 2, TOO_DEEP)


def test_canonical_rejects_a_too_deep_line_with_the_same_reason(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    good = {"id": "1001", "handle": "a", "created_at": "2021-03-04T10:00:00Z"}
    (folder / "accounts.jsonl").write_text(f"{DEEP}\n{json.dumps(good)}\n")
    ws = Workspace.init(tmp_path / "ws")
    report = import_canonical(ws, folder)
    assert (report.total.imported, report.total.rejected) == (1, 1)
    (rejection,) = rejections_of(ws, report.quarantine)
    assert rejection.line == 1 and TOO_DEEP in rejection.reason
