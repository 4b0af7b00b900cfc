"""Import a Mastodon account export (zip or folder): ``outbox.json`` + ``actor.json``.

The actor becomes the one account (``id`` = the actor URI, ``handle`` = ``preferredUsername``,
``created_at`` = ``published``, ``protected`` = ``manuallyApprovesFollowers``: a locked account
is Mastodon's protected account; country and birth date unknown; status ``active``). The outbox's
``orderedItems`` are streamed one activity at a time:

- ``Create`` of a ``Note`` (or ``Question``, a poll, or ``Article``) → ``post``; ``reply`` when
  ``inReplyTo`` is set; ``quote`` when the object quotes another (``quote``/``quoteUri``/
  ``_misskey_quote``); ``dm`` when the audience is direct (below). HTML ``content`` becomes plain
  text with a real HTML parser: ``<br>`` → line break, paragraphs → blank line, entities
  unescaped, mention links ``@<span>bob</span>`` → ``@bob``, link text kept whole (Mastodon hides
  parts of long URLs in invisible spans; the text joins them back). A content warning
  (``summary``) is the author's words too: it comes first, then a blank line, then the body.
  A poll's options (a ``Question``'s ``oneOf``/``anyOf`` names) are the author's words as well:
  they follow the body after a blank line, one per line, in their order (the snapshot carries
  text, not a poll).
- Optional fields never cost a post: the language (``contentMap``'s one key) is read by the
  shared normaliser (Mastodon 3.x writes ``zhCn``: ``zh-CN``); an attachment or a poll option
  that is not an object with a name is dropped, and the import report counts it as a warning.
- ``Announce`` → ``repost`` with ``repost_of`` = the announced object's id and empty text: a
  boost carries no words of the booster.
- Any other activity type (``Like``, ``Follow``, ``Update``, ``Delete``, …) is REJECTED with field
  ``type``: it is counted in the report and kept in the quarantine, so the numbers add up and
  nothing disappears silently.

Ids are the ActivityPub URIs, as strings: the object URI for a ``Create`` (that is what other
posts' ``inReplyTo`` name), the activity URI for an ``Announce`` (a boost has no object of its
own). URIs are globally unique and stable across re-exports, so re-importing is idempotent.

Visibility, from the object's ``to``/``cc`` (the activity's when the object has none). Only what
Mastodon calls *public* is public:

==================  ============================================  =====================
Mastodon            audience                                      canonical
==================  ============================================  =====================
public              ``as:Public`` in ``to``                       ``public``
unlisted            ``as:Public`` in ``cc`` only                  ``followers``
followers-only      the followers collection, no ``as:Public``    ``followers``
direct (mentioned)  only the mentioned actors                     kind ``dm``, ``direct``
==================  ============================================  =====================

Unlisted maps to ``followers`` because an unlisted post is kept out of public timelines, search
and discovery by its author's choice, so it is not public; among the remaining values
``followers`` is where Mastodon actually delivers it (followers' home timelines), while
``mentioned`` would claim an audience of named people it does not have. Either way the policy
excludes it as ``not_public``.

Mentions are the ``tag`` entries of type ``Mention``, without the leading ``@``
(``bob@other.social``). Rejections name the file inside the export (``outbox.json``), the
position of the activity in ``orderedItems`` counted from 1 as the LINE (exports are one long
line, so a text line would say nothing), the field and the reason.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from consentry.errors import ImportDataError
from consentry.platform.ingest import DEFAULT_MAX_TEXT_CHARS, ImportReport
from consentry.platform.others import owner_words_only
from consentry.platform.quarantine import Rejection
from consentry.platform.report import ImportWarning
from consentry.platform.sources import (
    ArchiveTree,
    JsonStream,
    JsonStreamError,
    Parsed,
    ParsedRecord,
    Progress,
    RowError,
    UnsafeMemberError,
    feed,
    find_root,
    has_lone_surrogate,
    parse_iso_time,
    raw_json,
    read_json_document,
    rfc3339,
)

if TYPE_CHECKING:
    from consentry.workspace import Workspace

SOURCE: Final = "mastodon"

PUBLIC: Final = frozenset({"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"})
NOTE_TYPES: Final = frozenset({"Note", "Question", "Article"})
_ANCHOR: Final = re.compile(r"(?<![^/])outbox\.json$")
_QUOTE_KEYS: Final = ("quote", "quoteUri", "quoteUrl", "_misskey_quote")
#: Tags that start a paragraph (blank line before) and tags that start a line.
_PARAGRAPHS: Final = frozenset(
    {"p", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_LINES: Final = frozenset({"li", "div"})


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    followers: str | None


# ---------------------------------------------------------------------------------------------
# Entry points


def parse_mastodon(path: Path | str, *, progress: Progress | None = None) -> Iterator[Parsed]:
    """The canonical records of a Mastodon export (zip or folder): the account, then one content
    item (or rejection) per outbox activity.

    Raises ``ImportDataError`` at once when ``path`` is not a Mastodon export. ``progress(n)``
    is told of each ``n`` bytes read (uncompressed).
    """
    tree, actor_name, outbox = _open(Path(path), progress)
    try:
        with tree.open_member(actor_name) as raw:
            actor_doc = read_json_document(raw, tree.display(actor_name))
        account, actor = _account(actor_doc, actor_name, tree.display(actor_name))
    except BaseException:
        tree.close()
        raise
    return owner_words_only(_records(tree, outbox, account, actor), actor.id)


def import_mastodon(
    workspace: Workspace,
    path: Path | str,
    *,
    strict: bool = False,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    progress: Progress | None = None,
) -> ImportReport:
    """Read a Mastodon export into the workspace's content store through the ingest seam."""
    parsed = parse_mastodon(path, progress=progress)
    return feed(workspace, parsed, source=SOURCE, strict=strict, max_text_chars=max_text_chars)


def mastodon_size(path: Path | str) -> int:
    """Bytes an import of the export will read (uncompressed), for a progress bar."""
    tree, actor_name, outbox = _open(Path(path), None)
    with tree:
        return tree.size([actor_name, outbox])


def _open(path: Path, progress: Progress | None) -> tuple[ArchiveTree, str, str]:
    """The export and its actor and outbox members, or ImportDataError when it is not one."""
    tree = ArchiveTree.open(path, what="a Mastodon account export", progress=progress)
    try:
        root = find_root(tree.names, _ANCHOR)
        if root is None:
            raise ImportDataError(f"{path}: not a Mastodon account export (no outbox.json inside)")
        actor_name = f"{root}actor.json"
        if actor_name not in tree.names:
            raise ImportDataError(
                f"{tree.display(actor_name)}: missing; without it the export's owner is unknown"
            )
    except BaseException:
        tree.close()
        raise
    return tree, actor_name, f"{root}outbox.json"


def _records(
    tree: ArchiveTree, outbox: str, account: ParsedRecord, actor: Actor
) -> Iterator[Parsed]:
    file = outbox
    with tree:
        yield account
        number = 0
        try:
            with tree.open_member(outbox) as raw:
                stream = JsonStream(raw)
                found = False
                for key, _line in stream.members():
                    if key != "orderedItems":
                        stream.value()  # @context, id, totalItems …: not needed
                        continue
                    found = True
                    for item in stream.items():
                        number += 1
                        if item.refusal:
                            yield Rejection(
                                file=file,
                                line=number,
                                field=None,
                                reason=item.refusal,
                                raw=item.raw,
                                kind="content",
                            )
                            continue
                        yield from _map(item.value, actor, file, number)
                stream.end()
            if not found:
                yield Rejection(
                    file=file,
                    line=None,
                    field="orderedItems",
                    reason="missing: the outbox lists no activities",
                    raw=None,
                )
        except JsonStreamError as exc:
            yield Rejection(
                file=file,
                line=number + 1,
                field=None,
                reason=f"{exc.reason} (text line {exc.line}); the rest of the outbox was not read",
                raw=None,
                kind="content",
                incomplete=True,
            )
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            yield Rejection(
                file=file,
                line=None,
                field=None,
                reason=f"cannot be read: {exc}; the rest of the outbox was not read",
                raw=None,
                # A link refused on purpose is a rejection; a damaged file fails the import.
                incomplete=not isinstance(exc, UnsafeMemberError),
            )


def _map(value: Any, actor: Actor, file: str, number: int) -> list[Parsed]:
    dropped: list[tuple[str, str]] = []
    try:
        record = _activity(value, actor, dropped)
    except RowError as exc:
        return [
            Rejection(
                file=file,
                line=number,
                field=exc.field,
                reason=exc.reason,
                raw=raw_json(value),
                kind="content",
            )
        ]
    warnings: list[Parsed] = [ImportWarning(file, number, f, why) for f, why in dropped]
    return [ParsedRecord("content", record, file, number), *warnings]


# ---------------------------------------------------------------------------------------------
# The actor


def _account(doc: Any, name: str, file: str) -> tuple[ParsedRecord, Actor]:
    """The account record (named ``name``) of an actor document; errors name ``file``."""
    if not isinstance(doc, dict):
        raise ImportDataError(f"{file}: not an ActivityPub actor (not a JSON object)")
    actor_id = doc.get("id")
    if not isinstance(actor_id, str) or not actor_id:
        raise ImportDataError(f"{file}: field id (the actor URI) is missing")
    handle = doc.get("preferredUsername")
    if not isinstance(handle, str) or not handle:
        raise ImportDataError(f"{file}: field preferredUsername is missing")
    try:
        created = parse_iso_time(doc.get("published"))
    except ValueError as exc:
        raise ImportDataError(f"{file}: field published: {exc}") from None
    display = doc.get("name")
    followers = doc.get("followers")
    record = {
        "id": actor_id,
        "handle": handle,
        "display_name": display if isinstance(display, str) and display else None,
        "created_at": rfc3339(created),
        "country": None,
        "birth_date": None,
        "protected": doc.get("manuallyApprovesFollowers") is True,
        "status": "active",
    }
    actor = Actor(actor_id, followers if isinstance(followers, str) else None)
    return ParsedRecord("account", record, name, None), actor


# ---------------------------------------------------------------------------------------------
# Activities


def _activity(act: Any, actor: Actor, dropped: list[tuple[str, str]]) -> dict[str, Any]:
    if not isinstance(act, dict):
        raise RowError(None, "not an activity object")
    kind = act.get("type")
    if kind not in ("Create", "Announce"):
        raise RowError(
            "type", f"unsupported activity type {kind!r}: only Create and Announce are imported"
        )
    by = _uri(act.get("actor"))
    if by != actor.id:
        raise RowError("actor", f"{by!r} is not the export's owner {actor.id!r}")
    if kind == "Announce":
        return _announce(act, actor)
    return _create(act, actor, dropped)


def _create(act: dict[str, Any], actor: Actor, dropped: list[tuple[str, str]]) -> dict[str, Any]:
    obj = act.get("object")
    if not isinstance(obj, dict):
        raise RowError("object", "not an embedded object (the export should carry the post itself)")
    if obj.get("type") not in NOTE_TYPES:
        raise RowError(
            "object.type",
            f"unsupported object type {obj.get('type')!r}: only "
            f"{', '.join(sorted(NOTE_TYPES))} are imported",
        )
    object_id = _uri(obj.get("id"))
    if object_id is None:
        raise RowError("object.id", "missing")
    attributed = _uri(obj.get("attributedTo"))
    if attributed is not None and attributed != actor.id:
        raise RowError("object.attributedTo", f"{attributed!r} is not the export's owner")
    created = _time(obj.get("published", act.get("published")), "object.published")
    content = obj.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise RowError("object.content", "not a string")
    text = "\n\n".join(part for part in (html_to_text(content), _poll(obj, dropped)) if part)
    summary = obj.get("summary")
    if isinstance(summary, str) and summary.strip():
        text = f"{html_to_text(summary)}\n\n{text}" if text else html_to_text(summary)
    if has_lone_surrogate(text):
        raise RowError("object.content", "not valid Unicode (a lone surrogate escape)")

    audience = _audience(obj if ("to" in obj or "cc" in obj) else act, actor)
    reply_to = _uri(obj.get("inReplyTo"))
    quote_of = next((q for key in _QUOTE_KEYS if (q := _uri(obj.get(key))) is not None), None)
    if audience == "direct":
        kind, visibility = "dm", "direct"
    else:
        kind = "reply" if reply_to else "quote" if quote_of else "post"
        visibility = "public" if audience == "public" else "followers"
    conversation = obj.get("conversation")
    return {
        "id": object_id,
        "author_id": actor.id,
        "kind": kind,
        "text": text,
        "created_at": rfc3339(created),
        "lang": _language(obj),
        "visibility": visibility,
        "in_reply_to": reply_to,
        "quote_of": quote_of,
        "repost_of": None,
        "conversation_id": conversation if isinstance(conversation, str) else None,
        "deleted_at": None,
        "media": _media(obj.get("attachment"), dropped),
        "mentions": _mentions(obj.get("tag")),
    }


def _announce(act: dict[str, Any], actor: Actor) -> dict[str, Any]:
    activity_id = _uri(act.get("id"))
    if activity_id is None:
        raise RowError("id", "missing")
    announced = _uri(act.get("object"))
    if announced is None:
        raise RowError("object", "missing: the announced post is not named")
    created = _time(act.get("published"), "published")
    audience = _audience(act, actor)
    return {
        "id": activity_id,
        "author_id": actor.id,
        "kind": "repost",
        "text": "",
        "created_at": rfc3339(created),
        "lang": None,
        # A boost is as public as Mastodon lets it be (public or unlisted/followers: it cannot
        # be direct); only a public one is public.
        "visibility": "public" if audience == "public" else "followers",
        "in_reply_to": None,
        "quote_of": None,
        "repost_of": announced,
        "conversation_id": None,
        "deleted_at": None,
        "media": None,
        "mentions": [],
    }


def _audience(holder: dict[str, Any], actor: Actor) -> str:
    """``public`` / ``unlisted`` / ``followers`` / ``direct`` from ``to`` and ``cc``."""
    to = _uris(holder.get("to"))
    cc = _uris(holder.get("cc"))
    if to & PUBLIC:
        return "public"
    if cc & PUBLIC:
        return "unlisted"
    everyone = to | cc
    if (actor.followers and actor.followers in everyone) or any(
        u.endswith("/followers") for u in everyone
    ):
        return "followers"
    return "direct"


def _time(value: object, field: str) -> Any:
    try:
        return parse_iso_time(value)
    except ValueError as exc:
        raise RowError(field, str(exc)) from None


def _language(obj: dict[str, Any]) -> str | None:
    # contentMap has one key, the post's language, when the author's client set one.
    content_map = obj.get("contentMap")
    if isinstance(content_map, dict) and len(content_map) == 1:
        (lang,) = content_map
        if isinstance(lang, str) and lang and lang != "und":
            return lang
    return None


def _poll(obj: dict[str, Any], dropped: list[tuple[str, str]]) -> str:
    """A poll's options, one per line (``oneOf``: one choice, ``anyOf``: several)."""
    lines: list[str] = []
    for key in ("oneOf", "anyOf"):
        options = obj.get(key)
        if options is None:
            continue
        if not isinstance(options, list):
            dropped.append((f"object.{key}", "not a list of poll options; the options dropped"))
            continue
        for i, option in enumerate(options):
            name = option.get("name") if isinstance(option, dict) else None
            if isinstance(name, str) and name.strip() and not has_lone_surrogate(name):
                lines.append(name.strip())  # plain text: Mastodon never marks options up
            else:
                dropped.append((f"object.{key}[{i}]", "not a poll option with a name; dropped"))
    return "\n".join(lines)


def _media(attachments: object, dropped: list[tuple[str, str]]) -> list[dict[str, Any]] | None:
    if attachments is None:
        return None
    if isinstance(attachments, dict):  # ActivityStreams allows one object for a list of one
        attachments = [attachments]
    if not isinstance(attachments, list):
        dropped.append(("object.attachment", "not a list of attachments; media dropped"))
        return None
    media = []
    for i, a in enumerate(attachments):
        if not isinstance(a, dict):
            dropped.append((f"object.attachment[{i}]", "not an attachment object; dropped"))
            continue
        mime = a.get("mediaType")
        major = mime.split("/", 1)[0] if isinstance(mime, str) else ""
        kind = {"image": "photo", "video": "video", "audio": "audio"}.get(major, "document")
        alt = a.get("name")
        media.append({"type": kind, "alt_text": alt if isinstance(alt, str) and alt else None})
    return media or None


def _mentions(tags: object) -> list[str]:
    names: list[str] = []
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, dict) and tag.get("type") == "Mention":
            name = tag.get("name")
            if isinstance(name, str) and name.strip("@") and name.lstrip("@") not in names:
                names.append(name.lstrip("@"))
    return names


def _uri(value: object) -> str | None:
    """An object reference: a URI string, or an embedded object's ``id``."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _uris(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {u for v in value if (u := _uri(v)) is not None}
    return set()


# ---------------------------------------------------------------------------------------------
# HTML → text


class _TextExtractor(HTMLParser):
    """Mastodon's status HTML to plain text: a real parser, not regexes (tags nest, attributes
    hold ``>``, entities are many)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def _break(self, newline: str) -> None:
        # A block starts on a fresh line (a paragraph after a blank one), never at the very start.
        text = "".join(self.parts)
        if not text:
            return
        stripped = text.rstrip(" \t")
        have = len(stripped) - len(stripped.rstrip("\n"))
        if have < len(newline):
            self.parts = [stripped, newline[have:]]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _PARAGRAPHS:
            self._break("\n\n")
        elif tag in _LINES:
            self._break("\n")
        elif tag in ("script", "style"):
            self._skip += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of a post's HTML (see the module docstring for what is kept)."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts).strip()
