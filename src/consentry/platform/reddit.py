"""Import Reddit dumps in the Pushshift layout: one JSON object per line, plain or zstandard.

PATH is a file (``RC_2023-01.zst``, ``r_france_comments.jsonl`` …) or a folder, whose ``.zst``,
``.jsonl``, ``.ndjson`` and ``.json`` files are read in name order. Compression is recognised by
its magic number and decompressed as a stream with a 2 GiB window (Pushshift's ``--long=31``), so
a dump of any size is read in bounded memory. Each line is one row: a rejection names the file
(its name, as the canonical importer does) and the line number in the decompressed file, from 1.

A line with ``title`` is a submission, one with ``body`` a comment:

- submission → ``post``: text = title, a blank line, then the self text (self posts) or the link
  URL (link posts); just the title when there is nothing else.
- comment → ``reply`` with ``in_reply_to`` = its ``parent_id``.
- quoted lines (Markdown ``> …``) are left out of the text: on Reddit they are nearly always
  the words of the comment replied to, someone else's, and that person's own item follows
  that person's consent. A poll's options (``poll_data.options[].text``) are the author's words:
  they follow the post's text, one per line. An optional text that is not one (``selftext``,
  ``url``) is dropped and reported as a warning: it never costs its item.
- ids keep Reddit's type prefixes (``t3_`` submission, ``t1_`` comment), so comments and
  submissions never collide and ``parent_id`` (already ``t1_…``/``t3_…``) names the parent
  as it is; an unprefixed parent is ``t3_`` when it is the comment's submission, else ``t1_``.
  ``conversation_id`` is the thread's submission (``t3_…``).
- ``created_utc`` (int, float or numeric string) → RFC 3339. Visibility is ``public``;
  ``over_18``, ``subreddit`` and scores are ignored. Reddit's HTML escaping (``&amp;`` …) is undone.

Authors become accounts, emitted once, before their first item: id ``reddit:<name in lower
case>`` (Reddit names are unique regardless of case and can never change or be reused, so the id
is the same in every dump of every era; ``author_fullname`` is missing from older dumps and would
split one person in two), handle = the name as written, created at ``author_created_utc`` when the
dump has it, else at the time of the first item seen from them (the account existed by then);
country and birth date unknown; status ``active``.

Deleted content. A body (or a submission's self text) of ``[deleted]`` / ``[removed]``, or an
author of ``[deleted]``, makes the item deleted content: it is imported (so its exclusion is
recorded, not assumed) with ``deleted_at`` = the time Pushshift retrieved it (``retrieved_on`` /
``retrieved_utc``: the deletion had happened by then) or, when the dump does not say, the item's
own time (the earliest it can have happened). An item whose author is ``[deleted]`` still needs an
author: all of them share ONE placeholder account, ``reddit:[deleted]`` (handle ``[deleted]``,
status ``deleted``, created at Reddit's launch, 2005-06-23), because the dump no longer says
who wrote them; the account status alone excludes everything under it, whatever consent anyone
gave.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from consentry.errors import ImportDataError
from consentry.platform.ingest import DEFAULT_MAX_TEXT_CHARS, ImportReport
from consentry.platform.jsontext import JsonTextError, loads
from consentry.platform.lines import ZSTD_MAX_WINDOW, RunawayLineError
from consentry.platform.quarantine import Rejection, raw_text
from consentry.platform.report import ImportWarning
from consentry.platform.sources import (
    MAX_LINE_BYTES,
    CountingReader,
    Parsed,
    ParsedRecord,
    Progress,
    RowError,
    TruncatedInputError,
    feed,
    from_epoch,
    has_lone_surrogate,
    iter_lines,
    rfc3339,
    unsafe_reason,
)

if TYPE_CHECKING:
    from consentry.workspace import Workspace

SOURCE: Final = "reddit"

DELETED_MARKERS: Final = frozenset({"[deleted]", "[removed]"})
DELETED_AUTHOR_ID: Final = "reddit:[deleted]"
#: The placeholder account's creation time: Reddit's launch day (a fixed value, so re-imports
#: agree; it stands for no person).
REDDIT_LAUNCH: Final = "2005-06-23T00:00:00Z"
DUMP_SUFFIXES: Final = (".zst", ".jsonl", ".ndjson", ".json")
#: JSON objects looked at before a file none of whose rows is Reddit's is refused.
SNIFF_LINES: Final = 100
_QUOTED_LINE: Final = re.compile(r"^[ \t]*>.*(?:\n|$)", re.MULTILINE)
_BLANK_LINES: Final = re.compile(r"\n{3,}")


# ---------------------------------------------------------------------------------------------
# Entry points


def dump_files(path: Path) -> list[Path]:
    """The dump files at ``path`` (a file, or a folder's dump files in name order)."""
    if path.is_dir():
        # Links are listed too, so that they are refused with a reason rather than followed.
        files = sorted(
            p
            for p in path.iterdir()
            if (p.is_file() or p.is_symlink()) and p.suffix in DUMP_SUFFIXES
        )
        if not files:
            raise ImportDataError(
                f"{path}: no Reddit dump inside (looked for {', '.join(DUMP_SUFFIXES)} files)"
            )
        return files
    if not path.is_file():
        raise ImportDataError(f"{path}: no such file or folder")
    return [path]


def parse_reddit(
    path: Path | str, *, progress: Progress | None = None, max_window: int = ZSTD_MAX_WINDOW
) -> Iterator[Parsed]:
    """The canonical records of Pushshift-style dumps: each author's account before its first
    item, then the item (or a rejection) for every line, in file order.

    Raises ``ImportDataError`` at once when ``path`` holds no dump, or a file that does not even
    start like NDJSON (random bytes, another compression); a broken line further on is a
    rejection. ``progress(n)`` is told of each ``n`` bytes read from disk (compressed).
    ``max_window``: the largest zstandard window accepted, in bytes (memory the decoder holds).
    """
    files = dump_files(Path(path))
    refused = _refused(Path(path), files)
    for file in files:
        if file not in refused:
            _check_dump(file, max_window)
    return _records(files, progress, refused, max_window)


def _refused(path: Path, files: list[Path]) -> dict[Path, str]:
    """Files of a dump folder that are not read (links), with the reason; a file named on the
    command line is the user's choice and is read as it is."""
    if not path.is_dir():
        return {}
    return {f: why for f in files if (why := unsafe_reason(path, f.name)) is not None}


def reddit_size(path: Path | str) -> int:
    """Bytes an import will read from disk, for a progress bar."""
    files = dump_files(Path(path))
    refused = _refused(Path(path), files)
    return sum(f.stat().st_size for f in files if f not in refused)


def _check_dump(path: Path, max_window: int) -> None:
    """Refuse at once a file that is not a Reddit dump, before thousands of its lines are
    quarantined: one that is not NDJSON at all (random bytes, a gzip, a PDF …) must at least
    start like a JSON object, and one of JSON objects must have a Reddit comment or submission
    among its first ``SNIFF_LINES`` objects. A broken line is only a rejection."""
    started = False  # a non-blank line was seen
    objects = 0  # lines that are JSON objects, none of them Reddit's so far
    with path.open("rb") as raw:
        try:
            for _number, line in iter_lines(raw, max_window=max_window):
                if line is None:  # over the line cap: the import rejects it
                    started = True
                    continue
                text = line.strip().removeprefix(b"\xef\xbb\xbf").strip()
                if not text:
                    continue
                if not started and text[:1] != b"{":
                    raise ImportDataError(
                        f"{path}: not a Reddit dump (NDJSON, plain or .zst): it does not start "
                        "with a JSON object"
                    )
                started = True
                try:
                    row = loads(text)
                except JsonTextError:
                    continue  # a broken line: the import says so, line by line
                if isinstance(row, dict):
                    if _looks_like_reddit(row):
                        return
                    objects += 1
                    if objects >= SNIFF_LINES:
                        break
        except RunawayLineError:
            return  # the import rejects the line and tells the file was not read to its end
        except TruncatedInputError as exc:
            if not started:
                raise ImportDataError(f"{path}: {exc}; nothing could be read") from None
    if objects:
        raise ImportDataError(
            f"{path}: not a Reddit dump: none of its first {objects:,} JSON objects is a Reddit "
            "comment (with body) or submission (with title) and author"
        )
    if not started:
        raise ImportDataError(f"{path}: empty, no Reddit rows in it")


def _looks_like_reddit(row: dict[str, Any]) -> bool:
    return ("body" in row or "title" in row) and "author" in row


def import_reddit(
    workspace: Workspace,
    path: Path | str,
    *,
    strict: bool = False,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    progress: Progress | None = None,
    max_window: int = ZSTD_MAX_WINDOW,
) -> ImportReport:
    """Read Reddit dumps into the workspace's content store through the ingest seam."""
    parsed = parse_reddit(path, progress=progress, max_window=max_window)
    return feed(workspace, parsed, source=SOURCE, strict=strict, max_text_chars=max_text_chars)


def _records(
    files: list[Path], progress: Progress | None, refused: dict[Path, str], max_window: int
) -> Iterator[Parsed]:
    seen: set[str] = set()  # author ids already emitted: one string per distinct author
    for path in files:
        file = path.name  # as the canonical importer names files: relative to the folder
        if path in refused:
            yield Rejection(file, None, None, refused[path], None, "content")
            continue
        number = 0
        with CountingReader(path.open("rb"), progress) as raw:
            try:
                for number, line in iter_lines(raw, max_window=max_window):
                    if line is None:
                        yield Rejection(
                            file=file,
                            line=number,
                            field=None,
                            reason=f"line longer than {MAX_LINE_BYTES:,} bytes: not a Reddit row",
                            raw=None,
                            kind="content",
                        )
                        continue
                    if not line.strip():
                        continue  # a blank line (often the last) is not a row
                    yield from _line(line, file, number, seen)
            except TruncatedInputError as exc:
                yield Rejection(
                    file=file,
                    line=number + 1,
                    field=None,
                    reason=f"{exc}; the lines before were read, the rest was not",
                    raw=None,
                    kind="content",
                    incomplete=True,
                )


def _line(line: bytes, file: str, number: int, seen: set[str]) -> Iterator[Parsed]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield Rejection(
            file=file,
            line=number,
            field=None,
            reason=f"not valid UTF-8 (byte {exc.start} of the line)",
            raw=raw_text(line),
            kind="content",
        )
        return
    try:
        row = loads(text)
    except JsonTextError as exc:
        where = f"invalid JSON at column {exc.column}: " if exc.column else ""
        yield Rejection(
            file=file,
            line=number,
            field=None,
            reason=where + exc.reason,
            raw=text,
            kind="content",
        )
        return
    dropped: list[tuple[str, str]] = []
    try:
        content = _row(row, dropped)
    except RowError as exc:
        yield Rejection(
            file=file, line=number, field=exc.field, reason=exc.reason, raw=text, kind="content"
        )
        return
    if content["author_id"] not in seen:  # built only once per author: most rows skip it
        seen.add(content["author_id"])
        yield ParsedRecord("account", _account(row, content), file, number)
    yield ParsedRecord("content", content, file, number)
    for field, reason in dropped:
        yield ImportWarning(file, number, field, reason)


# ---------------------------------------------------------------------------------------------
# Rows


def _row(row: Any, dropped: list[tuple[str, str]]) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise RowError(None, "not a JSON object")
    if "title" in row:
        prefix, kind = "t3_", "post"
    elif "body" in row:
        prefix, kind = "t1_", "reply"
    else:
        raise RowError(None, "neither a submission (no title) nor a comment (no body)")
    item_id = _fullname(row.get("id"), row.get("name"), prefix)
    created = _epoch(row, "created_utc")
    author_id = _author_id(row)

    link_id: str | None
    if kind == "post":
        title = _string(row, "title")
        selftext = _optional_string(row, "selftext", dropped)
        url = _optional_string(row, "url", dropped)
        is_self = row.get("is_self") is True or (not url and bool(selftext))
        extra = selftext if is_self else url
        text = f"{title}\n\n{extra}" if extra else title
        deleted = selftext in DELETED_MARKERS
        link_id = item_id
        in_reply_to = None
    else:
        text = _string(row, "body")
        deleted = text in DELETED_MARKERS
        link = row.get("link_id")
        link_id = _prefixed(link, "t3_") if isinstance(link, str) and link else None
        in_reply_to = _parent(row.get("parent_id"), link_id)
    if has_lone_surrogate(text):
        raise RowError(
            "body" if kind == "reply" else "selftext", "not valid Unicode (a lone surrogate escape)"
        )

    deleted = deleted or author_id == DELETED_AUTHOR_ID
    deleted_at = rfc3339(_deleted_time(row, created)) if deleted else None

    return {
        "id": item_id,
        "author_id": author_id,
        "kind": kind,
        "text": _without_quotes(html.unescape(text)) + _poll(row),
        "created_at": rfc3339(created),
        "lang": None,
        "visibility": "public",
        "in_reply_to": in_reply_to,
        "quote_of": None,
        "repost_of": None,
        "conversation_id": link_id,
        "deleted_at": deleted_at,
        "media": None,
        "mentions": [],
    }


def _without_quotes(text: str) -> str:
    """``text`` without its Markdown quotations (someone else's words, see the docstring)."""
    if ">" not in text:
        return text
    return _BLANK_LINES.sub("\n\n", _QUOTED_LINE.sub("", text)).strip()


def _poll(row: dict[str, Any]) -> str:
    """A poll's options, one per line after a blank one ("" without a poll); an option that is
    not text is left out (an optional field never costs its post)."""
    poll = row.get("poll_data")
    options = poll.get("options") if isinstance(poll, dict) else None
    names = [
        o["text"].strip()
        for o in (options if isinstance(options, list) else [])
        if isinstance(o, dict) and isinstance(o.get("text"), str) and o["text"].strip()
    ]
    return "\n\n" + "\n".join(names) if names else ""


def _author_id(row: dict[str, Any]) -> str:
    name = row.get("author")
    if not isinstance(name, str) or not name:
        raise RowError("author", "missing or not a string")
    return DELETED_AUTHOR_ID if name in DELETED_MARKERS else f"reddit:{name.lower()}"


def _account(row: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    """The account of ``content``'s author (``_row`` has checked the name)."""
    name: str = row["author"]
    if content["author_id"] == DELETED_AUTHOR_ID:
        return {
            "id": DELETED_AUTHOR_ID,
            "handle": "[deleted]",
            "display_name": None,
            "created_at": REDDIT_LAUNCH,
            "country": None,
            "birth_date": None,
            "protected": False,
            "status": "deleted",
        }
    created: str = content["created_at"]  # the account existed when it wrote this: a bound
    if row.get("author_created_utc") is not None:
        with contextlib.suppress(ValueError):  # a broken one: keep the bound, import the item
            created = rfc3339(from_epoch(row["author_created_utc"]))
    return {
        "id": content["author_id"],
        "handle": name,
        "display_name": None,
        "created_at": created,
        "country": None,
        "birth_date": None,
        "protected": False,
        "status": "active",
    }


def _deleted_time(row: dict[str, Any], created: datetime) -> datetime:
    """When Pushshift saw the item gone (it was deleted by then), else the item's own time."""
    for field in ("retrieved_on", "retrieved_utc"):
        if row.get(field) is not None:
            try:
                return max(created, from_epoch(row[field]))
            except ValueError:
                break  # a broken retrieval time does not make the item unreadable
    return created


def _fullname(base36: object, name: object, prefix: str) -> str:
    if isinstance(base36, str) and base36:
        return _prefixed(base36, prefix)
    if isinstance(name, str) and name.startswith(prefix):
        return name
    raise RowError("id", "missing")


def _prefixed(value: str, prefix: str) -> str:
    return value if value.startswith(prefix) else prefix + value


def _parent(parent: object, link_id: str | None) -> str:
    if not isinstance(parent, str) or not parent:
        raise RowError("parent_id", "missing: a comment replies to something")
    if parent.startswith(("t1_", "t3_")):
        return parent
    # Old dumps sometimes drop the prefix: the submission is named by link_id, else a comment.
    return f"t3_{parent}" if link_id == f"t3_{parent}" else f"t1_{parent}"


def _epoch(row: dict[str, Any], field: str) -> datetime:
    if row.get(field) is None:
        raise RowError(field, "missing")
    try:
        return from_epoch(row[field])
    except ValueError as exc:
        raise RowError(field, str(exc)) from None


def _optional_string(row: dict[str, Any], field: str, dropped: list[tuple[str, str]]) -> str:
    """An optional text ("" when absent); one that is not text is dropped, never the item."""
    value = row.get(field)
    if value is None or isinstance(value, str):
        return value or ""
    dropped.append((field, f"not a string: {type(value).__name__}; dropped"))
    return ""


def _string(row: dict[str, Any], field: str) -> str:
    value = row.get(field)
    if not isinstance(value, str):
        raise RowError(
            field, "missing" if value is None else f"not a string: {type(value).__name__}"
        )
    return value
