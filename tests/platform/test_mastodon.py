"""The Mastodon export parser: ActivityStreams outbox + actor, zipped and extracted.

Exports are written by the tests in the shape Mastodon produces (``outbox.json`` on one line,
statuses with HTML content, ``to``/``cc`` audiences). The people are invented.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from consentry.errors import ImportDataError
from consentry.platform.mastodon import html_to_text, parse_mastodon
from consentry.platform.quarantine import Rejection
from consentry.platform.report import ImportWarning
from consentry.platform.sources import ParsedRecord

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ME = "https://piaille.example/users/noemie"
FOLLOWERS = f"{ME}/followers"
BOB = "https://other.example/users/bob"

ACTOR = {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
    "id": ME,
    "type": "Person",
    "following": f"{ME}/following",
    "followers": FOLLOWERS,
    "inbox": f"{ME}/inbox",
    "outbox": "outbox.json",
    "preferredUsername": "noemie",
    "name": "Noémie R.",
    "summary": "<p>Bibliothécaire, Lyon</p>",
    "url": "https://piaille.example/@noemie",
    "manuallyApprovesFollowers": False,
    "discoverable": True,
    "published": "2022-11-04T00:00:00Z",
}


def status(
    n: int,
    content: str,
    *,
    to: list[str],
    cc: list[str],
    in_reply_to: str | None = None,
    tags: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    obj = {
        "id": f"{ME}/statuses/{n}",
        "type": "Note",
        "summary": None,
        "inReplyTo": in_reply_to,
        "published": "2024-03-02T10:15:00Z",
        "url": f"https://piaille.example/@noemie/{n}",
        "attributedTo": ME,
        "to": to,
        "cc": cc,
        "sensitive": False,
        "atomUri": f"{ME}/statuses/{n}",
        "conversation": f"tag:piaille.example,2024-03-02:objectId={n}:objectType=Conversation",
        "content": content,
        "contentMap": {"fr": content},
        "attachment": [],
        "tag": tags or [],
    }
    obj.update(extra)
    return {
        "id": f"{ME}/statuses/{n}/activity",
        "type": "Create",
        "actor": ME,
        "published": "2024-03-02T10:15:00Z",
        "to": to,
        "cc": cc,
        "object": obj,
    }


def outbox(items: list[Any]) -> str:
    # Mastodon writes the outbox on one line: positions, not lines, locate an activity.
    return json.dumps(
        {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "outbox.json",
            "type": "OrderedCollection",
            "totalItems": len(items),
            "orderedItems": items,
        },
        ensure_ascii=False,
    )


def make_export(
    tmp_path: Path, files: dict[str, str | bytes], *, zipped: bool, name: str = "export"
) -> Path:
    if not zipped:
        root = tmp_path / name
        root.mkdir()
        for rel, content in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, "utf-8")
        return root
    path = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, content in files.items():
            zf.writestr(rel, content)
    return path


def parse(path: Path) -> tuple[list[ParsedRecord], list[Rejection]]:
    items = list(parse_mastodon(path))
    return (
        [i for i in items if isinstance(i, ParsedRecord)],
        [i for i in items if isinstance(i, Rejection)],
    )


def by_id(records: list[ParsedRecord]) -> dict[str, dict[str, Any]]:
    return {r.record["id"]: r.record for r in records if r.kind == "content"}


MENTION_HTML = (
    '<p><span class="h-card" translate="no"><a href="https://other.example/@bob" '
    'class="u-url mention">@<span>bob</span></a></span> tout à fait d&#39;accord</p>'
)


def sample_items() -> list[Any]:
    return [
        status(
            1,
            "<p>Bonjour &amp; bienvenue !</p><p>Deuxième<br>ligne</p>",
            to=[AS_PUBLIC],
            cc=[FOLLOWERS],
        ),
        status(
            2,
            MENTION_HTML,
            to=[AS_PUBLIC],
            cc=[FOLLOWERS, BOB],
            in_reply_to="https://other.example/users/bob/statuses/77",
            tags=[
                {"type": "Mention", "href": BOB, "name": "@bob@other.example"},
                {"type": "Hashtag", "href": "https://piaille.example/tags/lyon", "name": "#lyon"},
            ],
        ),
        status(3, "<p>pas pour tout le monde</p>", to=[FOLLOWERS], cc=[AS_PUBLIC]),  # unlisted
        status(4, "<p>abonnés seulement</p>", to=[FOLLOWERS], cc=[]),
        status(
            5,
            "<p>rien qu'à toi</p>",
            to=[BOB],
            cc=[],
            tags=[{"type": "Mention", "href": BOB, "name": "@bob@other.example"}],
        ),
        {
            "id": f"{ME}/statuses/6/activity",
            "type": "Announce",
            "actor": ME,
            "published": "2024-03-03T08:00:00Z",
            "to": [AS_PUBLIC],
            "cc": [BOB, FOLLOWERS],
            "object": "https://other.example/users/bob/statuses/88",
        },
        {"id": f"{ME}#likes/9", "type": "Like", "actor": ME, "object": "https://x.example/s/1"},
    ]


@pytest.mark.parametrize("zipped", [False, True])
def test_export_maps_to_canonical_records(tmp_path: Path, zipped: bool) -> None:
    files: dict[str, str | bytes] = {
        "actor.json": json.dumps(ACTOR),
        "outbox.json": outbox(sample_items()),
        "likes.json": "{}",
        "media_attachments/files/1.png": b"\x89PNG",
    }
    records, rejections = parse(make_export(tmp_path, files, zipped=zipped))
    assert records[0].kind == "account"
    assert records[0].record == {
        "id": ME,
        "handle": "noemie",
        "display_name": "Noémie R.",
        "created_at": "2022-11-04T00:00:00Z",
        "country": None,
        "birth_date": None,
        "protected": False,
        "status": "active",
    }
    items = by_id(records)
    first = items[f"{ME}/statuses/1"]
    assert first["text"] == "Bonjour & bienvenue !\n\nDeuxième\nligne"
    assert (first["kind"], first["visibility"], first["lang"]) == ("post", "public", "fr")
    assert first["created_at"] == "2024-03-02T10:15:00Z" and first["author_id"] == ME

    reply = items[f"{ME}/statuses/2"]
    assert reply["text"] == "@bob tout à fait d'accord"
    assert (reply["kind"], reply["in_reply_to"]) == (
        "reply",
        "https://other.example/users/bob/statuses/77",
    )
    assert reply["mentions"] == ["bob@other.example"]

    # Only public is public: unlisted and followers-only are not; direct is a DM.
    assert items[f"{ME}/statuses/3"]["visibility"] == "followers"
    assert items[f"{ME}/statuses/4"]["visibility"] == "followers"
    dm = items[f"{ME}/statuses/5"]
    assert (dm["kind"], dm["visibility"]) == ("dm", "direct")

    boost = items[f"{ME}/statuses/6/activity"]
    assert (boost["kind"], boost["repost_of"], boost["text"]) == (
        "repost",
        "https://other.example/users/bob/statuses/88",
        "",
    )

    # The Like is counted as a rejection (never silently dropped), at its position in the outbox.
    (like,) = rejections
    assert (like.line, like.field, like.kind) == (7, "type", "content")
    assert "unsupported activity type 'Like'" in like.reason
    assert like.file == "outbox.json"  # as named inside the export


@pytest.mark.parametrize(
    ("to", "cc", "kind", "visibility"),
    [
        ([AS_PUBLIC], [], "post", "public"),
        (["as:Public"], [], "post", "public"),
        (["Public"], [FOLLOWERS], "post", "public"),
        ([FOLLOWERS], [AS_PUBLIC], "post", "followers"),
        ([FOLLOWERS], ["as:Public"], "post", "followers"),
        ([FOLLOWERS, BOB], [], "post", "followers"),
        ([], [FOLLOWERS], "post", "followers"),
        ([BOB], [], "dm", "direct"),
        ([], [], "dm", "direct"),
    ],
)
def test_audience_mapping(
    tmp_path: Path, to: list[str], cc: list[str], kind: str, visibility: str
) -> None:
    files: dict[str, str | bytes] = {
        "actor.json": json.dumps(ACTOR),
        "outbox.json": outbox([status(1, "<p>x</p>", to=to, cc=cc)]),
    }
    records, _ = parse(make_export(tmp_path, files, zipped=False))
    item = by_id(records)[f"{ME}/statuses/1"]
    assert (item["kind"], item["visibility"]) == (kind, visibility)


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>un</p><p>deux</p>", "un\n\ndeux"),
        ("<p>a<br>b<br/>c</p>", "a\nb\nc"),
        ("<p>&lt;3 &amp; &eacute;t&#233; &#x1F600;</p>", "<3 & été 😀"),
        (
            '<p><a href="https://example.org/a/very/long/path" rel="nofollow noopener">'
            '<span class="invisible">https://</span>'
            '<span class="ellipsis">example.org/a/very</span>'
            '<span class="invisible">/long/path</span></a></p>',
            "https://example.org/a/very/long/path",
        ),
        (
            '<p><a href="https://piaille.example/tags/lyon" class="mention hashtag" rel="tag">'
            "#<span>lyon</span></a></p>",
            "#lyon",
        ),
        (MENTION_HTML, "@bob tout à fait d'accord"),
        ("<p>liste :</p><ul><li>un</li><li>deux</li></ul>", "liste :\n\nun\ndeux"),
        ("texte sans balise", "texte sans balise"),
        ("", ""),
        ("<p>non fermé <b>gras", "non fermé gras"),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_content_warning_attachments_and_locked_account(tmp_path: Path) -> None:
    actor = dict(ACTOR, manuallyApprovesFollowers=True)
    item = status(
        1,
        "<p>le spoiler</p>",
        to=[AS_PUBLIC],
        cc=[],
        summary="fin de la série",
        attachment=[
            {
                "type": "Document",
                "mediaType": "image/jpeg",
                "url": "/m/1.jpg",
                "name": "affiche du film",
            },
            {"type": "Document", "mediaType": "video/mp4", "url": "/m/2.mp4", "name": None},
        ],
        contentMap={"en": "x"},
    )
    files: dict[str, str | bytes] = {"actor.json": json.dumps(actor), "outbox.json": outbox([item])}
    records, _ = parse(make_export(tmp_path, files, zipped=True))
    assert records[0].record["protected"] is True
    post = by_id(records)[f"{ME}/statuses/1"]
    assert post["text"] == "fin de la série\n\nle spoiler"
    assert post["lang"] == "en"
    assert post["media"] == [
        {"type": "photo", "alt_text": "affiche du film"},
        {"type": "video", "alt_text": None},
    ]


# ---- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activity", "field", "reason"),
    [
        (
            {"type": "Follow", "actor": ME, "object": BOB},
            "type",
            "unsupported activity type 'Follow'",
        ),
        ({"type": "Create", "actor": BOB, "object": {}}, "actor", "is not the export's owner"),
        (
            {"type": "Create", "actor": ME, "object": "https://x/1"},
            "object",
            "not an embedded object",
        ),
        (
            {"type": "Create", "actor": ME, "object": {"type": "Tombstone", "id": "x"}},
            "object.type",
            "unsupported object type",
        ),
        ("just a string", None, "not an activity object"),
    ],
)
def test_an_unmappable_activity_is_rejected_with_field_and_position(
    tmp_path: Path, activity: Any, field: str | None, reason: str
) -> None:
    good = status(1, "<p>ok</p>", to=[AS_PUBLIC], cc=[])
    files: dict[str, str | bytes] = {
        "actor.json": json.dumps(ACTOR),
        "outbox.json": outbox([good, activity]),
    }
    records, rejections = parse(make_export(tmp_path, files, zipped=False))
    assert list(by_id(records)) == [f"{ME}/statuses/1"]
    (rejection,) = rejections
    assert (rejection.line, rejection.field) == (2, field)
    assert reason in rejection.reason


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"published": "2024-02-30T10:00:00Z"}, "object.published"),
        ({"published": "yesterday"}, "object.published"),
        ({"id": None}, "object.id"),
        ({"content": ["not", "html"]}, "object.content"),
    ],
)
def test_a_bad_status_is_rejected_with_its_field(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    bad = status(2, "<p>x</p>", to=[AS_PUBLIC], cc=[])
    bad["object"].update(change)
    files: dict[str, str | bytes] = {
        "actor.json": json.dumps(ACTOR),
        "outbox.json": outbox([bad, status(3, "<p>y</p>", to=[AS_PUBLIC], cc=[])]),
    }
    records, rejections = parse(make_export(tmp_path, files, zipped=False))
    assert list(by_id(records)) == [f"{ME}/statuses/3"]
    assert [(r.line, r.field) for r in rejections] == [(1, field)]


def test_invalid_utf8_rejects_only_its_activity(tmp_path: Path) -> None:
    text = outbox(
        [
            status(1, "<p>MARK</p>", to=[AS_PUBLIC], cc=[]),
            status(2, "<p>ok</p>", to=[AS_PUBLIC], cc=[]),
        ]
    )
    data = text.encode().replace(b"MARK", b"\xff\xfe")
    files: dict[str, str | bytes] = {"actor.json": json.dumps(ACTOR), "outbox.json": data}
    records, rejections = parse(make_export(tmp_path, files, zipped=False))
    assert list(by_id(records)) == [f"{ME}/statuses/2"]
    assert [(r.line, r.reason) for r in rejections] == [(1, "not valid UTF-8")]


def test_a_truncated_outbox_keeps_what_came_before(tmp_path: Path) -> None:
    text = outbox(
        [
            status(1, "<p>un</p>", to=[AS_PUBLIC], cc=[]),
            status(2, "<p>deux</p>", to=[AS_PUBLIC], cc=[]),
        ]
    )
    cut = text[: text.index("deux")]
    files: dict[str, str | bytes] = {"actor.json": json.dumps(ACTOR), "outbox.json": cut}
    records, rejections = parse(make_export(tmp_path, files, zipped=True))
    assert list(by_id(records)) == [f"{ME}/statuses/1"]
    (rejection,) = rejections
    assert rejection.line == 2 and "the rest of the outbox was not read" in rejection.reason
    assert rejection.incomplete  # the import as a whole fails: the rest is unread


@pytest.mark.parametrize(
    ("files", "zipped", "message"),
    [
        ({}, False, "not a Mastodon account export (no outbox.json inside)"),
        ({"outbox.json": outbox([])}, False, "actor.json: missing"),
        ({"outbox.json": outbox([]), "actor.json": "{"}, True, "actor.json: line 1: invalid JSON"),
        (
            {"outbox.json": outbox([]), "actor.json": b"\xff{}"},
            False,
            "actor.json: not valid UTF-8",
        ),
        (
            {"outbox.json": outbox([]), "actor.json": json.dumps({"id": ME})},
            False,
            "preferredUsername is missing",
        ),
        ({"tweets.js": "x"}, True, "no outbox.json inside"),
    ],
)
def test_what_is_not_an_export_is_a_clear_error(
    tmp_path: Path, files: dict[str, str | bytes], zipped: bool, message: str
) -> None:
    path = make_export(tmp_path, files, zipped=zipped)
    with pytest.raises(ImportDataError) as info:
        parse_mastodon(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_random_bytes_are_not_an_export(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ImportDataError, match="neither a zip file nor a folder"):
        parse_mastodon(path)


# ---- into a workspace ----------------------------------------------------------------------------


def test_import_into_a_workspace_counts_add_up_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    from consentry.platform.mastodon import import_mastodon
    from consentry.workspace import Workspace

    files: dict[str, str | bytes] = {
        "actor.json": json.dumps(ACTOR),
        "outbox.json": outbox(sample_items()),
    }
    export = make_export(tmp_path, files, zipped=True)
    ws = Workspace.init(tmp_path / "ws")
    first = import_mastodon(ws, export)
    total = first.total
    # 1 account + 7 activities; the Like is the one rejection.
    assert (total.read, total.imported, total.unchanged, total.rejected) == (8, 7, 0, 1)
    assert first.by_kind["content"].rejected == 1
    again = import_mastodon(ws, export).total
    assert (again.read, again.imported, again.unchanged, again.rejected) == (8, 0, 7, 1)


def test_cli_imports_an_export_and_documents_the_visibility_mapping(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from consentry.cli.main import app
    from consentry.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    files: dict[str, str | bytes] = {
        "actor.json": json.dumps(ACTOR),
        "outbox.json": outbox(sample_items()),
    }
    export = make_export(tmp_path, files, zipped=True)
    runner = CliRunner()
    result = runner.invoke(app, ["import", "mastodon", str(export), "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    assert "rejected rows" in result.output  # the Like, quarantined
    help_text = runner.invoke(app, ["import", "mastodon", "--help"], env={"COLUMNS": "200"})
    assert "unlisted" in help_text.output and "followers" in help_text.output

    result = runner.invoke(app, ["import", "mastodon", str(tmp_path), "-w", str(ws.root)])
    assert result.exit_code == 8 and "not a Mastodon account export" in result.output


# ---- what real exports showed ----------------------------------------------------------------


def _one(tmp_path: Path, activity: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    files: dict[str, str | bytes] = {
        "actor.json": json.dumps(ACTOR),
        "outbox.json": outbox([activity]),
    }
    tmp_path.mkdir(exist_ok=True)
    items = list(parse_mastodon(make_export(tmp_path, files, zipped=False)))
    assert not [i for i in items if isinstance(i, Rejection)]
    (record,) = [i.record for i in items if isinstance(i, ParsedRecord) and i.kind == "content"]
    return [i for i in items if isinstance(i, ImportWarning)], record


def test_a_camel_cased_language_key_is_imported_not_rejected(tmp_path: Path) -> None:
    from consentry.content import ContentStore
    from consentry.platform.mastodon import import_mastodon
    from consentry.workspace import Workspace

    post = status(1, "<p>你好</p>", to=[AS_PUBLIC], cc=[FOLLOWERS], contentMap={"zhCn": "x"})
    odd = status(2, "<p>hm</p>", to=[AS_PUBLIC], cc=[FOLLOWERS], contentMap={"klingon!": "x"})
    files: dict[str, str | bytes] = {
        "actor.json": json.dumps(ACTOR),
        "outbox.json": outbox([post, odd]),
    }
    ws = Workspace.init(tmp_path / "ws")
    report = import_mastodon(ws, make_export(tmp_path, files, zipped=True))
    assert (report.total.imported, report.total.rejected) == (3, 0)
    rows = [
        r for b in ContentStore(ws.content_dir).scan(["content_id", "lang"]) for r in b.to_pylist()
    ]
    assert {r["content_id"]: r["lang"] for r in rows} == {
        f"{ME}/statuses/1": "zh-CN",
        f"{ME}/statuses/2": None,
    }
    assert {(k[1], k[2], w.count, w.first_line) for k, w in report.warnings.items()} == {
        ("lang", "language 'zhCn' read as 'zh-CN'", 1, 1),
        ("lang", "not a language tag: 'klingon!'; language dropped", 1, 2),
    }


def test_poll_options_are_the_authors_words(tmp_path: Path) -> None:
    poll = status(
        7,
        "<p>Quel train ?</p>",
        to=[AS_PUBLIC],
        cc=[FOLLOWERS],
        type="Question",
        endTime="2024-03-03T10:15:00Z",
        oneOf=[
            {"type": "Note", "name": "Le 8h12", "replies": {"type": "Collection", "totalItems": 3}},
            {"type": "Note", "name": "Le 9h05 <vraiment>", "replies": {"totalItems": 1}},
        ],
    )
    warnings, record = _one(tmp_path, poll)
    assert warnings == []
    assert record["text"] == "Quel train ?\n\nLe 8h12\nLe 9h05 <vraiment>"
    several = status(
        8,
        "",
        to=[AS_PUBLIC],
        cc=[FOLLOWERS],
        type="Question",
        anyOf=[{"name": "oui"}, {"name": "non"}],
    )
    assert _one(tmp_path / "b", several)[1]["text"] == "oui\nnon"


def test_a_bad_poll_option_or_attachment_is_dropped_with_a_warning_not_the_post(
    tmp_path: Path,
) -> None:
    poll = status(
        9,
        "<p>Alors ?</p>",
        to=[AS_PUBLIC],
        cc=[FOLLOWERS],
        type="Question",
        oneOf=[{"name": "oui"}, {"name": 5}, "non"],
        attachment=[
            "https://piaille.example/media/1.png",
            {"type": "Document", "mediaType": "image/png", "name": "un plan du métro"},
        ],
    )
    warnings, record = _one(tmp_path, poll)
    assert record["text"] == "Alors ?\n\noui"
    assert record["media"] == [{"type": "photo", "alt_text": "un plan du métro"}]
    assert [(w.line, w.field) for w in warnings] == [
        (1, "object.oneOf[1]"),
        (1, "object.oneOf[2]"),
        (1, "object.attachment[0]"),
    ]
