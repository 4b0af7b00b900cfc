"""Someone else's words in a person's archive: which rows are not the owner's.

An X archive holds the messages the other person of a conversation wrote, and the text of
the tweets its owner liked; a Mastodon outbox can hold another actor's activity or embed a
boosted post. Such a row, refused, must not be kept whole in the quarantine (the owner cannot
give it away): ``owner_words_only`` marks the parser's output so that only its ids are kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Final

from consentry.platform.jsontext import JsonTextError, loads
from consentry.platform.quarantine import Rejection, withheld
from consentry.platform.sources import Parsed, ParsedRecord

#: Keys by which archive formats name who wrote something: X's DMs, ActivityPub, canonical.
_AUTHOR_KEYS: Final = frozenset({"senderId", "actor", "attributedTo", "author_id"})
#: Keys holding words someone else wrote, whoever the row is of: an X like carries the liked
#: tweet's text.
_OTHERS_TEXT_KEYS: Final = frozenset({"fullText"})
#: Keys whose values identify a row or its people (kept, as paths, for a withheld rejection).
_ID_KEYS: Final = _AUTHOR_KEYS | {
    "id",
    "id_str",
    "conversationId",
    "recipientId",
    "object",
    "tweetId",
}
#: Ids kept for one withheld row (a conversation of thousands of messages stays one small line).
MAX_WITHHELD_IDS: Final = 100


def owner_words_only(parsed: Iterable[Parsed], owner: str) -> Iterator[Parsed]:
    """The parser's output with every row that is not ``owner``'s own words marked as such.

    A record authored by someone else becomes ``third_party`` (if refused, only its ids are
    quarantined); a rejection whose row names another author anywhere inside (a DM
    conversation with the other person's messages, another actor's activity, a boost embedding
    someone's post) or carries another's text (a like's copy of the liked tweet) loses its
    text and keeps the row's ids.
    """
    for item in parsed:
        if isinstance(item, Rejection):
            if item.raw is not None and item.ids is None:
                try:
                    value = loads(item.raw)
                except JsonTextError:
                    value = None
                if _names_another_author(value, owner):
                    item = withheld(item, _row_ids(value))
        elif isinstance(item, ParsedRecord) and (
            item.kind == "content" and item.record.get("author_id") != owner
        ):
            item = item._replace(third_party=True)
        yield item


def _author_of(value: object) -> object:
    return value.get("id") if isinstance(value, dict) else value


def _walk(value: object, path: str = "") -> Iterator[tuple[str, str, object]]:
    """``(path, key, value)`` of every object member inside ``value``, level by level."""
    queue: deque[tuple[str, object]] = deque([(path, value)])
    while queue:
        where, node = queue.popleft()
        if isinstance(node, dict):
            for key, child in node.items():
                at = f"{where}.{key}" if where else str(key)
                yield at, key, child
                queue.append((at, child))
        elif isinstance(node, list):
            queue.extend((f"{where}[{i}]", child) for i, child in enumerate(node))


def _names_another_author(value: object, owner: str) -> bool:
    return any(
        key in _OTHERS_TEXT_KEYS
        or (key in _AUTHOR_KEYS and (who := _author_of(child)) is not None and who != owner)
        for _, key, child in _walk(value)
    )


def _row_ids(value: object) -> dict[str, str]:
    ids: dict[str, str] = {}
    for path, key, child in _walk(value):
        found = _author_of(child)
        if key in _ID_KEYS and isinstance(found, str | int) and not isinstance(found, bool):
            ids[path] = str(found)
            if len(ids) == MAX_WITHHELD_IDS:
                break
    return ids
