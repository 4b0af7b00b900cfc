"""Input written to hurt the importers: JSON nested too deep, links out of the archive, data
that is not what the command was told it is. Each is refused with a reason naming the file, and
what is valid around it is still imported."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Callable
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


RunCli = Callable[..., str]


@pytest.fixture
def run_cli() -> RunCli:
    """``consentry ARGS…`` in-process; asserts the exit code; returns stdout + stderr."""
    from typer.testing import CliRunner

    from consentry.cli.main import app

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.output

    return run


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


# ---- links out of the archive ----


def _someone_elses_tweets(tmp_path: Path) -> Path:
    other = tmp_path / "elsewhere" / "tweets.js"
    other.parent.mkdir()
    other.write_text(ytd("tweets", [tweet("1697000000000000042", "pas à moi")]), "utf-8")
    return other


def test_x_archive_does_not_follow_a_link_out_of_the_folder(tmp_path: Path) -> None:
    archive = make_archive(tmp_path, {"data/account.js": ytd("account", [ACCOUNT])})
    (archive / "data" / "tweets.js").symlink_to(_someone_elses_tweets(tmp_path))
    ws = Workspace.init(tmp_path / "ws")
    report = import_x_archive(ws, archive)
    assert report.by_kind["content"].imported == 0
    (rejection,) = rejections_of(ws, report.quarantine)
    assert rejection.file == "data/tweets.js" and "symbolic link" in rejection.reason
    assert str(tmp_path / "elsewhere") in rejection.reason  # names where it pointed
    assert report.by_kind["account"].imported == 1  # the rest of the archive is read


def test_x_archive_does_not_follow_a_linked_folder(tmp_path: Path) -> None:
    archive = make_archive(tmp_path, {"data/account.js": ytd("account", [ACCOUNT])})
    (archive / "data" / "more").symlink_to(_someone_elses_tweets(tmp_path).parent)
    ws = Workspace.init(tmp_path / "ws")
    report = import_x_archive(ws, archive)
    assert report.total.imported == 1 and report.total.rejected == 0


def test_x_zip_entries_that_are_links_or_leave_the_archive_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data/account.js", ytd("account", [ACCOUNT]))
        link = zipfile.ZipInfo("data/tweets.js")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "../../elsewhere/tweets.js")
    ws = Workspace.init(tmp_path / "ws")
    report = import_x_archive(ws, path)
    (rejection,) = rejections_of(ws, report.quarantine)
    assert rejection.file == "data/tweets.js" and "symbolic link" in rejection.reason
    assert report.by_kind["content"].imported == 0

    escaping = tmp_path / "escaping.zip"
    with zipfile.ZipFile(escaping, "w") as zf:
        zf.writestr("../data/account.js", ytd("account", [ACCOUNT]))
    with pytest.raises(ImportDataError, match=r"\.\./data/account\.js: the entry's path leaves"):
        import_x_archive(ws, escaping)


def test_mastodon_refuses_linked_members_naming_them(tmp_path: Path, run_cli: RunCli) -> None:
    good = status(1, "<p>bonjour</p>", to=[AS_PUBLIC], cc=[FOLLOWERS])
    export = make_export(tmp_path, {"actor.json": json.dumps(ACTOR)}, zipped=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "outbox.json").write_text(outbox([good]), "utf-8")
    (export / "outbox.json").symlink_to(elsewhere / "outbox.json")
    ws = Workspace.init(tmp_path / "ws")
    out = run_cli("import", "mastodon", str(export), "-w", str(ws.root))
    (quarantine,) = (ws.root / "quarantine").glob("*.jsonl")
    (rejection,) = read_quarantine(quarantine)
    assert rejection.file == "outbox.json" and "a symbolic link" in rejection.reason
    assert "pas à moi" not in out and "bonjour" not in quarantine.read_text("utf-8")
    (elsewhere / "actor.json").write_text(json.dumps(ACTOR), "utf-8")
    (export / "actor.json").unlink()
    (export / "actor.json").symlink_to(elsewhere / "actor.json")
    out = run_cli("import", "mastodon", str(export), "-w", str(ws.root), code=8)
    assert "actor.json: a symbolic link" in out and "Traceback" not in out


def test_canonical_refuses_a_linked_file_and_imports_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    good = {"id": "1001", "handle": "a", "created_at": "2021-03-04T10:00:00Z"}
    (folder / "accounts.jsonl").write_text(json.dumps(good) + "\n")
    outside = tmp_path / "consent.jsonl"
    outside.write_text('{"account_id": "1001", "purpose": "train", "decision": "grant"}\n')
    (folder / "consent.jsonl").symlink_to(outside)
    ws = Workspace.init(tmp_path / "ws")
    report = import_canonical(ws, folder)
    assert report.total.imported == 1 and report.by_file["consent.jsonl"].rejected == 1
    (rejection,) = rejections_of(ws, report.quarantine)
    assert rejection.file == "consent.jsonl" and "symbolic link" in rejection.reason


def test_reddit_folder_refuses_a_linked_dump(tmp_path: Path) -> None:
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(ndjson([SELF_POST]))
    outside = tmp_path / "other.jsonl"
    outside.write_bytes(ndjson([COMMENT]))
    (folder / "b.jsonl").symlink_to(outside)
    ws = Workspace.init(tmp_path / "ws")
    report = import_reddit(ws, folder)
    assert report.by_file["a.jsonl"].imported == 2
    (rejection,) = rejections_of(ws, report.quarantine)
    assert rejection.file == "b.jsonl" and "symbolic link" in rejection.reason
    # A link named on the command line is the user's own choice: it is read.
    assert import_reddit(ws, folder / "b.jsonl").total.rejected == 0
