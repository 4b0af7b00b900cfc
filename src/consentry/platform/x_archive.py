"""Import an X (Twitter) account archive: the zip a person downloads, or its extracted folder.

What is read (under ``data/``, found at the top of the archive or inside one enclosing folder):

=================================  =====================================================
``account.js`` (required)          the owner → one account record (status ``active``)
``ageinfo.js``                     the birth date the owner *declared* (``ageInfo``); the
                                   one X inferred (``inferredAgeInfo``) is not a fact and
                                   is ignored
``protected-history.js``           the latest Protect/Unprotect action → ``protected``
``tweets.js`` / ``tweet.js``       tweets, with multi-part ``tweets-part1.js`` … in order
``deleted-tweets.js``              tweets the owner deleted → content with ``deleted_at``
``like.js``                        likes → interactions of kind ``like``
``direct-messages.js``,            every ``messageCreate`` → a ``dm`` item (visibility
``direct-messages-group.js``       ``direct``), imported so that its exclusion is proven
``js/user_details.js``,            archives before 2019 ("Grailbird"): the owner, and one
``js/tweets/YYYY_MM.js``           file of tweets per month (read in month order)
=================================  =====================================================

Each file is ``window.YTD.<name>.partN = [ … ]`` (Grailbird: ``Grailbird.data.tweets_2013_01 =
[ … ]`` and ``var user_details = { … }``): the assignment is stripped as text and the array
parsed as JSON, element by element (never executed, never loaded whole).

Mapping decisions:

- ids are X's ``id_str`` strings (64-bit ids do not survive JSON numbers).
- ``created_at`` in X's legacy form ``Fri Sep 01 09:00:00 +0000 2023`` (Grailbird:
  ``2013-01-31 22:10:33 +0000``) → RFC 3339; an impossible date is rejected with its field.
- the owner's ``createdAt``, when missing or unreadable (people redact archives before sharing
  them), is derived and the import report says so and how: from the account id when it is a
  snowflake (its top bits are milliseconds since X's epoch, 1288834974657), else the earliest
  tweet's time (the account existed by then); with neither, the archive is refused.
- kind: ``repost`` when the tweet is a retweet (``retweeted_status``, or text starting ``RT @``;
  ``repost_of`` only when the archive names the original, which it usually does not); else
  ``reply`` when ``in_reply_to_status_id_str`` is set (a quote that replies stays a reply and keeps
  ``quote_of``); else ``quote`` when ``quoted_status_id_str`` names the quoted tweet or, as in
  real archives (which have no ``is_quote_status``), an ``entities.urls[].expanded_url`` is a
  status URL (``twitter.com``/``x.com``/``mobile.twitter.com``/``<user>/status/ID``,
  ``i/web/status/ID``) whose t.co link is in the text; else ``post``. The quoted author's words
  are not in the archive and never in the item: its text is the quoter's, t.co link included.
  A retweet's links are the original's, so a retweet never quotes.
- text: ``full_text`` with X's HTML escaping (``&amp;`` ``&lt;`` ``&gt;``) undone. DM text is
  kept as given (it is not escaped in archives).
- mentions: ``entities.user_mentions[].screen_name``. media: type and ``ext_alt_text``.
- an optional value that cannot be read (a language or alt text that is not a string, a media
  entry that is not an object) is dropped and reported as a warning: it never costs its tweet.
  Languages are normalised by the shared normaliser (``consentry.platform.language``).
- visibility: ``followers`` when the account is protected now (an X account's tweets are all
  hidden or all shown, whatever they were when written), else ``public``.
- country: unknown (``None``): an archive names no jurisdiction, and the free-text profile
  location is not one.
- likes carry no time in an archive: ``at`` is the earliest moment the like can have happened,
  the later of the owner's account creation and the liked tweet's creation (decoded from its
  snowflake id when it is one).
- DMs are authored by their ``senderId``. No account is invented for a correspondent (the owner
  cannot speak for them, and a made-up state would be a false statement in the ledger): a message
  the other person sent is imported when the workspace knows that account (e.g. from the
  platform's canonical export) and is otherwise rejected by the ingest as an unknown author.
  Conversation events that are not messages (joins, renames) are not content and are skipped.
- An archive carries no consent: no decision is ever emitted. The owner's decisions come from
  ``consentry consent``.

Records and rejections name the file inside the archive (``data/tweets.js``; errors that stop
the import name the full path), the LINE of the file on which the element starts (archives are
pretty-printed, so it is where an editor shows it), the field (a path into the element such as
``tweet.created_at`` or ``dmConversation.messages[3].messageCreate.createdAt``) and the reason.
One element holds a whole DM conversation, so one bad message rejects its conversation.
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from consentry.errors import ImportDataError
from consentry.platform.ingest import DEFAULT_MAX_TEXT_CHARS, ImportReport
from consentry.platform.others import owner_words_only
from consentry.platform.quarantine import Rejection
from consentry.platform.report import ImportWarning
from consentry.platform.sources import (
    ArchiveTree,
    JsonItem,
    JsonStream,
    JsonStreamError,
    Parsed,
    ParsedRecord,
    Progress,
    RecordKind,
    RowError,
    UnsafeMemberError,
    feed,
    find_root,
    has_lone_surrogate,
    parse_iso_time,
    raw_json,
    rfc3339,
)

if TYPE_CHECKING:
    from consentry.workspace import Workspace

SOURCE: Final = "x-archive"

_ANCHOR: Final = re.compile(
    r"(?<![^/])data/(?:(?:account|tweets?)(?:-part\d+)?|js/user_details|js/tweets/\d{4}_\d{2})\.js$"
)
_YTD: Final = re.compile(r"\s*window\.YTD\.[A-Za-z0-9_]+\.part\d+\s*=\s*")
#: Archives before 2019 ("Grailbird"): ``Grailbird.data.tweets_2013_01 = [ … ]`` per month and
#: ``var user_details = { … }``.
_GRAILBIRD: Final = re.compile(r"\s*(?:Grailbird\.data\.[A-Za-z0-9_]+|var\s+user_details)\s*=\s*")
_GRAILBIRD_MONTH: Final = re.compile(r"^js/tweets/(\d{4})_(\d{2})\.js$")
_GRAILBIRD_USER: Final = "grailbird-user"
_GRAILBIRD_TWEETS: Final = "grailbird-tweets"
_GRAILBIRD_TIME: Final = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
_PART: Final = re.compile(r"^(?P<stem>[a-z_-]+?)(?:-part(?P<n>\d+))?\.js$")
_LEGACY_TIME: Final = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<mon>[A-Z][a-z]{2}) (?P<d>\d{2}) "
    r"(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2}) (?P<off>[+-]\d{4}) (?P<y>\d{4})$"
)
_MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_STATUS_URL: Final = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/(?:[^/?#]+|i/web)/status(?:es)?/(\d+)"
)
#: Snowflake ids carry their creation time: milliseconds since this epoch, shifted left by 22 bits.
_SNOWFLAKE_EPOCH_MS: Final = 1288834974657
#: X ids below this are pre-snowflake (before November 2010) and carry no time.
_FIRST_SNOWFLAKE: Final = 1 << 32
#: Language codes X uses for "no language" (``und``, ``zxx``) and its own pseudo-codes (``qme``…).
_NOT_LANGUAGES: Final = frozenset({"und", "zxx"})

_OWNER_FILES: Final = ("account", "ageinfo", "protected-history")
_TWEET_FILES: Final = ("tweets", "tweet")
_DELETED_FILES: Final = ("deleted-tweets", "deleted-tweet")
_LIKE_FILES: Final = ("like",)
_DM_FILES: Final = (
    "direct-messages",
    "direct-message",
    "direct-messages-group",
    "direct-message-group",
)
#: Every stem read; anything else in ``data/`` (ads, devices, media …) is left alone.
_READ: Final = frozenset(
    _OWNER_FILES
    + _TWEET_FILES
    + _DELETED_FILES
    + _LIKE_FILES
    + _DM_FILES
    + (_GRAILBIRD_USER, _GRAILBIRD_TWEETS)
)


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    created_at: datetime
    protected: bool


# ---------------------------------------------------------------------------------------------
# Entry points


def parse_x_archive(path: Path | str, *, progress: Progress | None = None) -> Iterator[Parsed]:
    """The canonical records of an X archive (zip or folder), account first; never decisions.

    Raises ``ImportDataError`` at once when ``path`` is not an X archive (nothing to read);
    everything after that is reported row by row as ``Rejection``. ``progress(n)`` is told of
    each ``n`` bytes read (uncompressed).
    """
    tree, files = _open(Path(path), progress)
    try:
        head: list[Parsed] = []
        owner = _read_owner(tree, files, head)
    except BaseException:
        tree.close()
        raise
    return owner_words_only(_records(tree, files, owner, head), owner.id)


def import_x_archive(
    workspace: Workspace,
    path: Path | str,
    *,
    strict: bool = False,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    progress: Progress | None = None,
) -> ImportReport:
    """Read an X archive into the workspace's content store through the ingest seam."""
    parsed = parse_x_archive(path, progress=progress)
    return feed(workspace, parsed, source=SOURCE, strict=strict, max_text_chars=max_text_chars)


def x_archive_size(path: Path | str) -> int:
    """Bytes an import of the archive will read (uncompressed), for a progress bar."""
    tree, files = _open(Path(path), None)
    with tree:
        return tree.size(name for names in files.values() for name in names)


def _open(path: Path, progress: Progress | None) -> tuple[ArchiveTree, dict[str, list[str]]]:
    """The archive and its data files by stem, or ImportDataError when it is not an archive."""
    tree = ArchiveTree.open(path, what="an X archive", progress=progress)
    try:
        root = find_root(tree.names, _ANCHOR)
        if root is None:
            raise ImportDataError(
                f"{path}: not an X archive (no data/account.js, data/tweets.js or, before 2019, "
                "data/js/user_details.js inside)"
            )
        data = f"{root}data/"
        files = _data_files(tree.names, data) | _grailbird_files(tree.names, data)
        if "account" not in files and _GRAILBIRD_USER not in files:
            raise ImportDataError(
                f"{tree.display(data + 'account.js')}: missing; without it "
                "the archive's owner is unknown"
            )
    except BaseException:
        tree.close()
        raise
    return tree, {stem: names for stem, names in files.items() if stem in _READ}


def _records(
    tree: ArchiveTree, files: dict[str, list[str]], owner: Owner, head: list[Parsed]
) -> Iterator[Parsed]:
    with tree:
        yield from head
        for stem in _TWEET_FILES + _DELETED_FILES + (_GRAILBIRD_TWEETS,):
            for name in files.get(stem, ()):
                yield from _map_items(tree, name, lambda v, d: _tweet(v, owner, d), "content")
        for stem in _LIKE_FILES:
            for name in files.get(stem, ()):
                yield from _map_items(tree, name, lambda v, _: [_like(v, owner)], "interaction")
        for stem in _DM_FILES:
            for name in files.get(stem, ()):
                yield from _map_items(tree, name, lambda v, _: _dm_conversation(v), "content")


def _grailbird_files(names: list[str], data: str) -> dict[str, list[str]]:
    """A pre-2019 archive's owner file and monthly tweet files (in month order), when present."""
    files: dict[str, list[str]] = {}
    if f"{data}js/user_details.js" in names:
        files[_GRAILBIRD_USER] = [f"{data}js/user_details.js"]
    months = sorted(
        n for n in names if n.startswith(data) and _GRAILBIRD_MONTH.match(n[len(data) :])
    )
    if months:
        files[_GRAILBIRD_TWEETS] = months
    return files


def _data_files(names: list[str], data: str) -> dict[str, list[str]]:
    """``{stem: [member, …]}`` with multi-part files in part order (``tweets.js`` first)."""
    found: dict[str, list[tuple[int, str]]] = {}
    for name in names:
        if not name.startswith(data) or "/" in name[len(data) :]:
            continue
        m = _PART.match(name[len(data) :])
        if m is None:
            continue
        part = int(m["n"]) if m["n"] else 0
        found.setdefault(m["stem"], []).append((part, name))
    return {stem: [n for _, n in sorted(parts)] for stem, parts in found.items()}


# ---------------------------------------------------------------------------------------------
# Reading data files


def _items(tree: ArchiveTree, name: str, kind: str) -> Iterator[JsonItem | Rejection]:
    """The elements of one ``window.YTD…`` file; a broken file ends in one Rejection."""
    file = name
    wrapper = _GRAILBIRD if "/js/tweets/" in name else _YTD
    try:
        with tree.open_member(name) as raw:
            stream = JsonStream(raw)
            if not stream.skip_prefix(wrapper) and stream.peek() != "[":
                yield Rejection(
                    file,
                    1,
                    None,
                    "not an X archive data file (no `window.YTD.<name>.partN = [` wrapper)",
                    None,
                    kind,
                )
                return
            yield from stream.items()
            stream.end()
    except JsonStreamError as exc:
        yield Rejection(
            file,
            exc.line,
            None,
            f"{exc.reason}; the rest of this file was not read",
            None,
            kind,
            incomplete=True,
        )
    except (zipfile.BadZipFile, OSError, EOFError) as exc:  # e.g. a CRC error in a damaged zip
        yield Rejection(
            file,
            None,
            None,
            f"cannot be read: {exc}; the rest of this file was not read",
            None,
            kind,
            # A link refused on purpose is a rejection; a damaged file fails the import.
            incomplete=not isinstance(exc, UnsafeMemberError),
        )


def _map_items(
    tree: ArchiveTree,
    name: str,
    mapper: Callable[[Any, list[tuple[str, str]]], list[dict[str, Any]]],
    kind: RecordKind,
) -> Iterator[Parsed]:
    """Each element mapped to records; ``mapper`` adds ``(field, reason)`` for an optional value
    it dropped (the record kept), reported as warnings."""
    file = name
    for item in _items(tree, name, kind):
        if isinstance(item, Rejection):
            yield item
            continue
        if item.refusal:
            yield Rejection(file, item.line, None, item.refusal, item.raw, kind)
            continue
        dropped: list[tuple[str, str]] = []
        try:
            records = mapper(item.value, dropped)
        except RowError as exc:
            yield Rejection(file, item.line, exc.field, exc.reason, raw_json(item.value), kind)
            continue
        for record in records:
            yield ParsedRecord(kind, record, file, item.line)
        for where, reason in dropped:
            yield ImportWarning(file, item.line, where, reason)


def _first_object(
    tree: ArchiveTree, name: str, key: str, out: list[Parsed] | None = None
) -> tuple[dict[str, Any], int] | None:
    """The ``key`` object of the first element of a small file (account, ageinfo …).

    A broken file is fatal when ``out`` is None (the account: nothing can be imported without
    it), else it becomes a rejection in ``out`` (optional files such as ``ageinfo.js``).
    """
    for item in _items(tree, name, "account"):
        if isinstance(item, Rejection):
            if out is None:
                raise ImportDataError(f"{tree.display(name)}: line {item.line}: {item.reason}")
            out.append(item)
            return None
        value = item.value.get(key) if isinstance(item.value, dict) else None
        if isinstance(value, dict):
            return value, item.line
        if out is not None:
            out.append(
                Rejection(
                    name,
                    item.line,
                    key,
                    "missing or not an object",
                    raw_json(item.value),
                    "account",
                )
            )
        return None
    return None


# ---------------------------------------------------------------------------------------------
# The owner


def _read_owner(tree: ArchiveTree, files: dict[str, list[str]], out: list[Parsed]) -> Owner:
    if "account" in files:  # since 2019: data/account.js
        name = files["account"][0]
        found = _first_object(tree, name, "account")
        if found is None:
            raise ImportDataError(
                f"{tree.display(name)}: no `account` object: the archive's owner is unknown"
            )
        keys = ("account.", "accountId", "username", "accountDisplayName", "createdAt")
    else:  # Grailbird: data/js/user_details.js
        name = files[_GRAILBIRD_USER][0]
        found = _user_details(tree, name)
        keys = ("", "id", "screen_name", "full_name", "created_at")
    account, line = found
    where, id_key, handle_key, display_key, created_key = keys
    file = tree.display(name)  # for errors; the record names the member alone
    account_id = _id(account.get(id_key))
    if account_id is None:
        raise ImportDataError(f"{file}: line {line}: {where}{id_key} is missing")
    handle = account.get(handle_key)
    if not isinstance(handle, str) or not handle:
        raise ImportDataError(f"{file}: line {line}: {where}{handle_key} is missing")
    created = _creation_time(account.get(created_key))
    if created is None:
        # Some people redact their archive before sharing it: the owner is still known.
        derived = _derived_creation(account_id, tree, files)
        if derived is None:
            raise ImportDataError(
                f"{file}: line {line}: {where}{created_key} is missing or not a time, and "
                "neither the account id (not a snowflake) nor any tweet says when the account "
                "was created"
            )
        created, how = derived
        given = account.get(created_key)
        what = "missing" if given is None else f"not a time ({given!r})"
        out.append(
            ImportWarning(name, line, f"{where}{created_key}", f"{what}; {how}: {rfc3339(created)}")
        )
    birth = _birth_date(tree, files, out)
    protected = _protected(tree, files, out)
    display = account.get(display_key)
    out.insert(
        0,
        ParsedRecord(
            "account",
            {
                "id": account_id,
                "handle": handle,
                "display_name": display if isinstance(display, str) else None,
                "created_at": rfc3339(created),
                "country": None,
                "birth_date": birth,
                "protected": protected,
                "status": "active",
            },
            name,
            line,
        ),
    )
    return Owner(account_id, created, protected)


def _user_details(tree: ArchiveTree, name: str) -> tuple[dict[str, Any], int]:
    """The owner object of a Grailbird archive's ``var user_details = { … }``."""
    try:
        with tree.open_member(name) as raw:
            stream = JsonStream(raw)
            stream.skip_prefix(_GRAILBIRD)
            item = stream.value()
    except JsonStreamError as exc:
        raise ImportDataError(f"{tree.display(name)}: line {exc.line}: {exc.reason}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ImportDataError(f"{tree.display(name)}: cannot be read: {exc}") from None
    if not isinstance(item.value, dict):
        raise ImportDataError(f"{tree.display(name)}: not an object: the owner is unknown")
    return item.value, item.line


def _creation_time(value: object) -> datetime | None:
    """An account's creation time as archives write it (ISO, or Grailbird's form), else None."""
    try:
        return parse_iso_time(value)
    except ValueError:
        pass
    try:
        return _legacy_time(value, "created_at")
    except RowError:
        return None


def _derived_creation(
    account_id: str, tree: ArchiveTree, files: dict[str, list[str]]
) -> tuple[datetime, str] | None:
    """When the account was created, from its id when it is a snowflake, else the earliest
    tweet's time (the account existed by then); with how it was found."""
    born = _snowflake_time(account_id)
    if born is not None:
        return born, "derived from the account id (a snowflake id carries its creation time)"
    earliest: datetime | None = None
    for stem in _TWEET_FILES + _DELETED_FILES + (_GRAILBIRD_TWEETS,):
        for name in files.get(stem, ()):
            for item in _items(tree, name, "content"):
                value = item.value if isinstance(item, JsonItem) else None
                tweet = value.get("tweet", value) if isinstance(value, dict) else None
                try:
                    at = _legacy_time(tweet.get("created_at"), "created_at") if tweet else None
                except RowError:
                    continue  # the import rejects it with its field; here it only says nothing
                if at is not None and (earliest is None or at < earliest):
                    earliest = at
    if earliest is None:
        return None
    return earliest, "taken as the earliest tweet's time (the account existed by then)"


def _snowflake_time(value: str) -> datetime | None:
    """The creation time a snowflake id carries; None for older ids, which carry none."""
    if not value.isdigit() or int(value) < _FIRST_SNOWFLAKE:
        return None
    ms = (int(value) >> 22) + _SNOWFLAKE_EPOCH_MS
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _birth_date(tree: ArchiveTree, files: dict[str, list[str]], out: list[Parsed]) -> str | None:
    """The declared birth date, or None (unknown) when absent or unreadable."""
    if "ageinfo" not in files:
        return None
    name = files["ageinfo"][0]
    found = _first_object(tree, name, "ageMeta", out)
    if found is None:
        return None
    meta, line = found
    info = meta.get("ageInfo")
    value = info.get("birthDate") if isinstance(info, dict) else None
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return date.fromisoformat(value).isoformat()
    except ValueError:
        out.append(
            Rejection(
                name,
                line,
                "ageMeta.ageInfo.birthDate",
                f"not a date (YYYY-MM-DD): {value!r}; birth date left unknown",
                raw_json(meta),
                "account",
            )
        )
        return None


def _protected(tree: ArchiveTree, files: dict[str, list[str]], out: list[Parsed]) -> bool:
    """The state after the latest Protect/Unprotect action; not protected without history."""
    latest: tuple[datetime, bool] | None = None
    for name in files.get("protected-history", ()):
        file = name
        for item in _items(tree, name, "account"):
            if isinstance(item, Rejection):
                out.append(item)
                continue
            entry = item.value.get("protectedHistory") if isinstance(item.value, dict) else None
            if not isinstance(entry, dict):
                out.append(
                    Rejection(
                        file,
                        item.line,
                        "protectedHistory",
                        "missing",
                        raw_json(item.value),
                        "account",
                    )
                )
                continue
            action = entry.get("action")
            try:
                at = parse_iso_time(entry.get("protectedAt"))
            except ValueError as exc:
                out.append(
                    Rejection(
                        file,
                        item.line,
                        "protectedHistory.protectedAt",
                        str(exc),
                        raw_json(item.value),
                        "account",
                    )
                )
                continue
            if action not in ("Protect", "Unprotect"):
                out.append(
                    Rejection(
                        file,
                        item.line,
                        "protectedHistory.action",
                        f"not Protect or Unprotect: {action!r}",
                        raw_json(item.value),
                        "account",
                    )
                )
                continue
            if latest is None or at >= latest[0]:
                latest = (at, action == "Protect")
    return latest[1] if latest else False


# ---------------------------------------------------------------------------------------------
# Tweets


def _tweet(value: Any, owner: Owner, dropped: list[tuple[str, str]]) -> list[dict[str, Any]]:
    # Archives since 2019 wrap each tweet as {"tweet": {...}}; older ones do not.
    prefix = "tweet." if isinstance(value, dict) and "tweet" in value else ""
    tweet = value.get("tweet", value) if isinstance(value, dict) else None
    if not isinstance(tweet, dict):
        raise RowError(None, "not a tweet object")

    def field(name: str) -> str:
        return prefix + name

    tweet_id = _first_id(tweet, "id_str", "id")
    if tweet_id is None:
        raise RowError(field("id_str"), "missing tweet id")
    created = _legacy_time(tweet.get("created_at"), field("created_at"))
    text = tweet.get("full_text", tweet.get("text"))
    if not isinstance(text, str):
        raise RowError(field("full_text"), "missing or not a string")
    if has_lone_surrogate(text):
        raise RowError(field("full_text"), "not valid Unicode (a lone surrogate escape)")
    text = html.unescape(text)

    reply_to = _first_id(tweet, "in_reply_to_status_id_str", "in_reply_to_status_id")
    retweeted = tweet.get("retweeted_status")
    repost_of = _first_id(retweeted, "id_str", "id") if isinstance(retweeted, dict) else None
    # A retweet's links are the original's: what it quotes is not the reposter's quote.
    is_repost = isinstance(retweeted, dict) or text.startswith("RT @")
    quote_of = None if is_repost else _quote_of(tweet, text)
    if is_repost:
        kind = "repost"
    elif reply_to is not None:
        kind = "reply"
    elif quote_of is not None or _truthy(tweet.get("is_quote_status")):
        kind = "quote"
    else:
        kind = "post"

    deleted_at = None
    raw_deleted = tweet.get("deleted_at")  # only in deleted-tweets.js
    if raw_deleted is not None:
        try:
            deleted_at = rfc3339(parse_iso_time(raw_deleted))
        except ValueError:
            deleted_at = rfc3339(_legacy_time(raw_deleted, field("deleted_at")))

    entities = tweet.get("entities")
    lang = tweet.get("lang")
    if lang is not None and not isinstance(lang, str):
        dropped.append((field("lang"), f"not a string: {lang!r}; language dropped"))
    return [
        {
            "id": tweet_id,
            "author_id": owner.id,
            "kind": kind,
            "text": text,
            "created_at": rfc3339(created),
            "lang": lang if isinstance(lang, str) and _is_language(lang) else None,
            "visibility": "followers" if owner.protected else "public",
            "in_reply_to": reply_to if kind != "repost" else None,
            "quote_of": quote_of,
            "repost_of": repost_of,
            "conversation_id": None,
            "deleted_at": deleted_at,
            "media": _media(tweet, lambda where, why: dropped.append((field(where), why))),
            "mentions": _mentions(entities),
        }
    ]


def _legacy_time(value: object, field: str) -> datetime:
    """``Fri Sep 01 09:00:00 +0000 2023``, parsed by hand (``strptime``'s %a/%b follow the
    locale)."""
    if not isinstance(value, str):
        raise RowError(field, f"missing or not a string: {value!r}")
    if _GRAILBIRD_TIME.match(value):  # archives before 2019: ``2013-01-31 22:10:33 +0000``
        try:
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S %z")
        except ValueError as exc:
            raise RowError(field, f"impossible date {value!r}: {exc}") from None
    m = _LEGACY_TIME.match(value)
    month = _MONTHS.get(m["mon"]) if m else None
    if m is None or month is None:
        raise RowError(field, f"not an X date like 'Fri Sep 01 09:00:00 +0000 2023': {value!r}")
    off = int(m["off"][1:3]) * 60 + int(m["off"][3:5])
    try:
        tz = timezone(timedelta(minutes=off if m["off"][0] == "+" else -off))
        return datetime(
            int(m["y"]), month, int(m["d"]), int(m["H"]), int(m["M"]), int(m["S"]), tzinfo=tz
        )
    except ValueError as exc:
        raise RowError(field, f"impossible date {value!r}: {exc}") from None


def _quote_of(tweet: dict[str, Any], text: str) -> str | None:
    quoted = _first_id(tweet, "quoted_status_id_str", "quoted_status_id")
    if quoted is not None:
        return quoted
    if tweet.get("is_quote_status") is False or tweet.get("is_quote_status") == "false":
        return None
    # Real archives hold neither the quoted id nor ``is_quote_status``: X appends the quoted
    # tweet's t.co link to the text, and ``entities.urls`` expands it to a status URL (the last
    # one, when several). A status URL whose link is not in the text was not quoted.
    entities = tweet.get("entities")
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for url in reversed(urls if isinstance(urls, list) else []):
        if not isinstance(url, dict):
            continue
        expanded, short = url.get("expanded_url"), url.get("url")
        m = _STATUS_URL.match(expanded) if isinstance(expanded, str) else None
        if m and (not isinstance(short, str) or not short or short in text):
            return m[1]
    return None


def _mentions(entities: object) -> list[str]:
    mentions = entities.get("user_mentions") if isinstance(entities, dict) else None
    names: list[str] = []
    for mention in mentions if isinstance(mentions, list) else []:
        name = mention.get("screen_name") if isinstance(mention, dict) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def _media(tweet: dict[str, Any], drop: Callable[[str, str], None]) -> list[dict[str, Any]] | None:
    # extended_entities lists every attachment; entities.media only the first.
    for key in ("extended_entities", "entities"):
        holder = tweet.get(key)
        media = holder.get("media") if isinstance(holder, dict) else None
        if isinstance(media, list) and media:
            out = []
            for i, m in enumerate(media):
                if not isinstance(m, dict):
                    drop(f"{key}.media[{i}]", "not a media object; dropped")
                    continue
                alt = m.get("ext_alt_text")
                if alt is not None and not isinstance(alt, str):
                    drop(f"{key}.media[{i}].ext_alt_text", "not a string; alt text dropped")
                out.append({"type": _text_or(m.get("type"), "photo"), "alt_text": _text_or(alt)})
            return out or None
    return None


def _is_language(code: str) -> bool:
    return bool(code) and code not in _NOT_LANGUAGES and not (len(code) == 3 and code[0] == "q")


# ---------------------------------------------------------------------------------------------
# Likes and direct messages


def _like(value: Any, owner: Owner) -> dict[str, Any]:
    like = value.get("like") if isinstance(value, dict) else None
    if not isinstance(like, dict):
        raise RowError("like", "missing")
    tweet_id = _id(like.get("tweetId"))
    if tweet_id is None:
        raise RowError("like.tweetId", "missing")
    at = owner.created_at
    if tweet_id.isdigit() and int(tweet_id) >= _FIRST_SNOWFLAKE:
        written = _snowflake_time(tweet_id)
        if written is None:
            raise RowError("like.tweetId", f"not an X tweet id: {tweet_id!r}")
        at = max(at, written)
    return {"account_id": owner.id, "content_id": tweet_id, "kind": "like", "at": rfc3339(at)}


def _dm_conversation(value: Any) -> list[dict[str, Any]]:
    conv = value.get("dmConversation") if isinstance(value, dict) else None
    if not isinstance(conv, dict):
        raise RowError("dmConversation", "missing")
    conversation_id = _id(conv.get("conversationId"))
    messages = conv.get("messages")
    if not isinstance(messages, list):
        raise RowError("dmConversation.messages", "missing or not a list")
    records: list[dict[str, Any]] = []
    # One element holds a whole conversation, so one bad message rejects the conversation: the
    # field path says which message, and a partial conversation would misrepresent it.
    for i, message in enumerate(messages):
        create = message.get("messageCreate") if isinstance(message, dict) else None
        if create is None:
            continue  # joins, leaves, renames: events, not content
        where = f"dmConversation.messages[{i}].messageCreate"
        if not isinstance(create, dict):
            raise RowError(where, "not an object")
        message_id = _id(create.get("id"))
        if message_id is None:
            raise RowError(f"{where}.id", "missing message id")
        sender = _id(create.get("senderId"))
        if sender is None:
            raise RowError(f"{where}.senderId", "missing")
        text = create.get("text")
        if not isinstance(text, str):
            raise RowError(f"{where}.text", "missing or not a string")
        if has_lone_surrogate(text):
            raise RowError(f"{where}.text", "not valid Unicode (a lone surrogate escape)")
        try:
            created = parse_iso_time(create.get("createdAt"))
        except ValueError as exc:
            raise RowError(f"{where}.createdAt", str(exc)) from None
        records.append(
            {
                "id": message_id,
                "author_id": sender,
                "kind": "dm",
                "text": text,
                "created_at": rfc3339(created),
                "lang": None,
                "visibility": "direct",
                "in_reply_to": None,
                "quote_of": None,
                "repost_of": None,
                "conversation_id": conversation_id,
                "deleted_at": None,
                "media": None,
                "mentions": [],
            }
        )
    return records


# ---------------------------------------------------------------------------------------------
# Small helpers


def _id(value: object) -> str | None:
    """An id as the string X wrote (archives hold ids as strings; old ones as numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _first_id(holder: dict[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` holding an id (``id_str`` is null or absent in some old tweets)."""
    for key in keys:
        found = _id(holder.get(key))
        if found is not None:
            return found
    return None


def _text_or(value: object, default: str | None = None) -> str | None:
    return value if isinstance(value, str) and value else default


def _truthy(value: object) -> bool:
    # Archives write booleans as JSON booleans, but some exporters write "true"/"false".
    return value is True or value == "true"
