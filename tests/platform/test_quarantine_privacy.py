"""The quarantine keeps no one else's words: rows refused because they are not the archive
owner's (the other person's direct messages, another actor's activities, rows of erased
accounts) are kept with file, line, field, reason and ids only. The owner's own malformed rows
keep their text, so that they can be fixed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from consentry.cli.main import app
from consentry.compliance.erasure import purge_quarantine
from consentry.platform.canonical import import_canonical
from consentry.platform.mastodon import import_mastodon
from consentry.platform.quarantine import read_quarantine
from consentry.platform.x_archive import import_x_archive
from consentry.workspace import Workspace

from .conftest import MakeExport, account, item
from .test_mastodon import ACTOR, AS_PUBLIC, BOB, FOLLOWERS, ME, make_export, outbox, status
from .test_x_archive import ACCOUNT, OWNER, make_archive, tweet, ytd

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_X = REPO_ROOT.parent / "shared" / "conformance" / "real-exports" / "x" / "milahu-2026"
FRIEND = "2900000000000000002"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def fragments(text: str) -> list[str]:
    """Pieces of ``text`` long enough to be its own, without characters JSON escapes: each
    would appear as is in a quarantine line holding the text, however it was quoted."""
    return [p for p in re.split(r'["\\\n\r\t]', text) if len(p.strip()) >= 12]


def assert_absent(quarantine: Path, texts: list[str]) -> None:
    content = quarantine.read_text("utf-8")
    for text in texts:
        for piece in fragments(text):
            assert piece not in content, piece


def messages(dms: str) -> list[dict[str, Any]]:
    body = json.loads(dms[dms.index("[") :])
    return [
        m["messageCreate"]
        for conv in body
        for m in conv["dmConversation"]["messages"]
        if "messageCreate" in m
    ]


def dm(message_id: str, sender: str, text: str, **over: Any) -> dict[str, Any]:
    create = {
        "recipientId": OWNER if sender != OWNER else FRIEND,
        "reactions": [],
        "urls": [],
        "text": text,
        "mediaUrls": [],
        "senderId": sender,
        "id": message_id,
        "createdAt": "2024-01-10T10:00:00.000Z",
    }
    create.update(over)
    return {"messageCreate": create}


def conversation(conv_id: str, *msgs: dict[str, Any]) -> dict[str, Any]:
    return {"dmConversation": {"conversationId": conv_id, "messages": list(msgs)}}


# ---- a real archive ----


def test_real_archive_quarantine_holds_none_of_the_other_peoples_messages(tmp_path: Path) -> None:
    if not REAL_X.is_dir():
        if _in_ci():
            pytest.fail(f"{REAL_X} is missing: CI must run the real-archive checks")
        pytest.skip(f"no real X archive at {REAL_X} (shared/ is not beside this checkout)")
    data = REAL_X / "data"
    owner = json.loads((data / "account.js").read_text("utf-8").split("=", 1)[1])[0]["account"]
    theirs = [
        m
        for m in messages((data / "direct-messages.js").read_text("utf-8"))
        if m["senderId"] != owner["accountId"]
    ]
    assert theirs, "the archive is expected to hold messages the other people wrote"

    ws = Workspace.init(tmp_path / "ws")
    report = import_x_archive(ws, REAL_X)
    assert report.quarantine is not None
    assert_absent(report.quarantine, [m["text"] for m in theirs])
    rows = read_quarantine(report.quarantine)
    withheld = {r.ids["id"]: r for r in rows if r.ids is not None and "id" in r.ids}
    for m in theirs:  # each is counted and can be found again by its ids, without its text
        row = withheld[m["id"]]
        assert row.raw is None and row.file == "data/direct-messages.js" and row.line
        assert row.ids is not None and row.ids["author_id"] == m["senderId"]
        assert "unknown author" in row.reason
    counts = report.by_file["data/direct-messages.js"]
    assert counts.rejected == len(theirs) and counts.adds_up


# ---- made-up archives ----


def test_x_archive_the_other_persons_messages_keep_only_their_ids(tmp_path: Path) -> None:
    secret = "Rendez-vous à la gare de Lyon, quai 7, mardi"
    cut = "Mon numéro est le zéro six douze"
    liked = "Le tweet de quelqu'un d'autre, aimé par la propriétaire"
    files = {
        "data/account.js": ytd("account", [ACCOUNT]),
        "data/tweets.js": ytd(
            "tweets",
            [tweet("1697000000000000009", "ma propre date fausse", created_at="bad date")],
        ),
        "data/like.js": ytd(
            "like",
            [{"like": {"tweetId": True, "fullText": liked, "expandedUrl": "https://x.com/i/1"}}],
        ),
        "data/direct-messages.js": ytd(
            "direct_messages",
            [
                conversation(
                    f"{OWNER}-{FRIEND}",
                    dm("1745000000000000001", OWNER, "Salut, tu viens ?"),
                    dm("1745000000000000002", FRIEND, secret),
                ),
                # A malformed message rejects its whole conversation: the other person's
                # words in it are not kept either.
                conversation(
                    f"{OWNER}-{FRIEND}-b",
                    dm("1745000000000000003", FRIEND, cut),
                    dm("1745000000000000004", OWNER, "ok", createdAt="not a time"),
                ),
            ],
        ),
    }
    archive = make_archive(tmp_path, files, layout="zip")
    ws = Workspace.init(tmp_path / "ws")
    report = import_x_archive(ws, archive)
    assert report.quarantine is not None
    assert_absent(report.quarantine, [secret, cut, liked])
    rows = {(r.file, r.field): r for r in read_quarantine(report.quarantine)}

    message = rows[("data/direct-messages.js", "author_id")]
    assert message.raw is None
    assert message.ids == {
        "id": "1745000000000000002",
        "author_id": FRIEND,
        "conversation_id": f"{OWNER}-{FRIEND}",
    }
    whole = rows[("data/direct-messages.js", "dmConversation.messages[1].messageCreate.createdAt")]
    assert whole.raw is None and whole.ids is not None
    assert whole.ids["dmConversation.conversationId"] == f"{OWNER}-{FRIEND}-b"
    assert whole.ids["dmConversation.messages[0].messageCreate.senderId"] == FRIEND
    like = rows[("data/like.js", "like.tweetId")]
    assert like.raw is None and like.ids == {}  # the row is found by its file and line
    # The owner's own malformed tweet keeps its text: it is theirs to fix.
    own = rows[("data/tweets.js", "tweet.created_at")]
    assert own.ids is None and own.raw is not None and "ma propre date fausse" in own.raw


def test_a_message_of_a_known_correspondent_is_still_imported(
    tmp_path: Path, make_export: MakeExport
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    import_canonical(ws, make_export(accounts=[account(1, id=FRIEND)]))
    dms = ytd(
        "direct_messages",
        [conversation("c1", dm("1745000000000000002", FRIEND, "bonjour"))],
    )
    archive = make_archive(
        tmp_path, {"data/account.js": ytd("account", [ACCOUNT]), "data/direct-messages.js": dms}
    )
    report = import_x_archive(ws, archive)
    assert report.total.rejected == 0 and report.total.imported == 2


def test_mastodon_another_actors_activity_keeps_only_its_ids(tmp_path: Path) -> None:
    words = "Ce que Bob a écrit et qui n'est pas à Noémie"
    theirs = status(7, f"<p>{words}</p>", to=[AS_PUBLIC], cc=[])
    theirs["actor"] = BOB
    theirs["object"]["attributedTo"] = BOB
    boost = {  # a boost embedding Bob's post, refused for its missing time
        "id": f"{ME}/statuses/8/activity",
        "type": "Announce",
        "actor": ME,
        "to": [AS_PUBLIC],
        "cc": [FOLLOWERS],
        "object": {"id": f"{BOB}/statuses/1", "attributedTo": BOB, "content": words},
    }
    own = status(9, "<p>mon texte</p>", to=[AS_PUBLIC], cc=[], published="hier")
    own["object"]["published"] = "hier"
    export = make_export(
        tmp_path,
        {"actor.json": json.dumps(ACTOR), "outbox.json": outbox([theirs, boost, own])},
        zipped=True,
    )
    ws = Workspace.init(tmp_path / "ws")
    report = import_mastodon(ws, export)
    assert report.quarantine is not None
    assert_absent(report.quarantine, [words])
    by_line = {r.line: r for r in read_quarantine(report.quarantine)}
    assert by_line[1].raw is None and by_line[1].ids is not None
    assert by_line[1].ids["actor"] == BOB and by_line[1].field == "actor"
    assert by_line[2].raw is None and by_line[2].ids is not None
    assert by_line[2].ids["object"] == f"{BOB}/statuses/1"
    assert by_line[3].ids is None and by_line[3].raw is not None and "mon texte" in by_line[3].raw


# ---- erased accounts ----


def test_rows_of_an_erased_account_keep_only_their_ids(
    tmp_path: Path, make_export: MakeExport
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    words = "un texte qui ne doit plus exister nulle part"
    export = make_export(accounts=[account(1), account(2)], content=[item(1, text=words)])
    assert import_canonical(ws, export).total.rejected == 0
    erased = CliRunner().invoke(app, ["erase", "1001", "--yes", "-w", str(ws.root)])
    assert erased.exit_code == 0, erased.output

    again = import_canonical(ws, export)
    assert again.quarantine is not None
    assert_absent(again.quarantine, [words])
    row = next(r for r in read_quarantine(again.quarantine) if r.file == "content.jsonl")
    assert row.raw is None and row.field == "author_id" and "erased" in row.reason
    assert row.ids is not None and row.ids["content_id"] == "90001"


def test_erasing_someone_removes_their_withheld_rows_too(tmp_path: Path) -> None:
    folder = tmp_path / "quarantine"
    folder.mkdir()
    rows = [
        {
            "file": "d.js",
            "line": 3,
            "field": "author_id",
            "reason": "unknown author",
            "raw": None,
            "kind": "content",
            "ids": {"id": "5", "author_id": FRIEND},
        },
        {
            "file": "d.js",
            "line": 4,
            "field": "text",
            "reason": "too long",
            "raw": '{"id": "6"}',
            "kind": "content",
        },
    ]
    path = folder / "imp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    assert purge_quarantine(folder, FRIEND) == 1
    assert [r.line for r in read_quarantine(path)] == [4]
