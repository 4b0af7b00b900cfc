"""Assistant conversations recorded as they happen: a person's prompt and the assistant's
response, into the content store at once, by the importers' own path (``Ingest``: the same
validation, the same quarantine, one import committed per call).

The turns are the person's content (``author_id`` = the account), of kinds ``assistant_prompt``
and ``assistant_response``, sharing a ``conversation_id``; their visibility is ``direct``
(private by nature: the owner's consent for scope ``assistant`` governs training on them).
A call is all or nothing (a strict import): a turn with a bad field refuses the call, naming
the field, and nothing is written but the quarantine line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from consentry.errors import UsageError
from consentry.model import ContentKind, Visibility
from consentry.platform.ingest import Ingest
from consentry.workspace import Workspace

SOURCE: Final = "assistant"
#: The name turns are filed under in reports and quarantine lines (there is no file).
FILE: Final = "assistant-turns"
TURN_KINDS: Final = (ContentKind.ASSISTANT_PROMPT.value, ContentKind.ASSISTANT_RESPONSE.value)


@dataclass(frozen=True, slots=True)
class Turn:
    content_id: str
    kind: str
    text: str
    created_at: datetime
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    import_id: str
    content_ids: list[str]


class TurnError(UsageError):
    """A turn the importers' rules refuse: ``field`` names what was wrong (``turns[1].text``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def record_turns(
    workspace: Workspace, account_id: str, conversation_id: str, turns: Sequence[Turn]
) -> Recorded:
    """Write ``turns`` of ``account_id``'s conversation into the content store, committed
    before this returns; ``TurnError`` (nothing written) when one breaks a rule."""
    for i, turn in enumerate(turns):
        if turn.kind not in TURN_KINDS:
            raise TurnError(f"turns[{i}].kind", f"must be one of {', '.join(TURN_KINDS)}")
    with Ingest(workspace, source=SOURCE, strict=True) as ingest:
        # A refused (strict) import gives its number to the next one, whose quarantine lines
        # then follow this one's in the same file: this call's start there, at ``offset``.
        quarantine = workspace.quarantine_dir / f"{ingest.import_id}.jsonl"
        offset = quarantine.stat().st_size if quarantine.is_file() else 0
        for line, turn in enumerate(turns, start=1):
            record = {
                "id": turn.content_id,
                "author_id": account_id,
                "kind": turn.kind,
                "text": turn.text,
                "created_at": turn.created_at.isoformat(),
                "lang": turn.lang,
                "visibility": Visibility.DIRECT.value,
                "conversation_id": conversation_id,
            }
            ingest.content(record, file=FILE, line=line)
        report = ingest.finish()
    if not report.committed or report.quarantine is not None:
        raise _refusal(report.quarantine, offset)
    return Recorded(report.import_id, [t.content_id for t in turns])


def _refusal(quarantine: Path | None, offset: int) -> TurnError:
    """The first line this call quarantined, as the field of the request it came from."""
    first: dict[str, object] = {}
    if quarantine is not None and quarantine.is_file():
        with quarantine.open("rb") as fh:
            fh.seek(offset)
            first = json.loads(fh.readline().decode("utf-8") or "{}")
    line = first.get("line")
    column = {"id": "content_id", "author_id": "account_id"}.get(
        str(first.get("field") or ""), str(first.get("field") or "turn")
    )
    if column in ("account_id", "conversation_id"):
        field = column
    else:
        field = f"turns[{int(str(line)) - 1}].{column}" if isinstance(line, int) else column
    return TurnError(field, str(first.get("reason") or "refused by the import rules"))
