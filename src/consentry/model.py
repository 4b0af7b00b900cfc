"""Plain typed values of the consent domain: the words of docs/concepts.md, nothing that does I/O.

Enumerations are ``StrEnum`` so that their values are the exact strings the data contracts use
(JSONL exports, Parquet columns, ledger rows, CLI arguments).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import Final

BUILTIN_PURPOSES: Final = ("train", "fine_tune", "share", "answer")
SHARE: Final = "share"


class Scope(StrEnum):
    """Which of an account's content a decision covers (a decision without scope covers all)."""

    POSTS = "posts"
    INTERACTIONS = "interactions"
    ASSISTANT = "assistant"


class Decision(StrEnum):
    GRANT = "grant"
    DENY = "deny"


class Source(StrEnum):
    WEB = "web"
    APP = "app"
    API = "api"
    CLI = "cli"
    GPC = "gpc"
    IMPORT = "import"


class ContentKind(StrEnum):
    POST = "post"
    REPLY = "reply"
    QUOTE = "quote"
    REPOST = "repost"
    DM = "dm"
    ASSISTANT_PROMPT = "assistant_prompt"
    ASSISTANT_RESPONSE = "assistant_response"


class Visibility(StrEnum):
    PUBLIC = "public"
    FOLLOWERS = "followers"
    MENTIONED = "mentioned"
    DIRECT = "direct"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    SUSPENDED = "suspended"
    DELETED = "deleted"
    #: Erased on request (GDPR art. 17, ``consentry erase``): its content is gone for good.
    ERASED = "erased"


class InteractionKind(StrEnum):
    LIKE = "like"
    REPOST = "repost"
    BOOKMARK = "bookmark"


#: The consent scope that governs each kind of content item. DMs sit under ``posts`` only for
#: completeness: they are excluded before consent is ever looked at.
KIND_SCOPE: Final[Mapping[ContentKind, Scope]] = {
    ContentKind.POST: Scope.POSTS,
    ContentKind.REPLY: Scope.POSTS,
    ContentKind.QUOTE: Scope.POSTS,
    ContentKind.REPOST: Scope.POSTS,
    ContentKind.DM: Scope.POSTS,
    ContentKind.ASSISTANT_PROMPT: Scope.ASSISTANT,
    ContentKind.ASSISTANT_RESPONSE: Scope.ASSISTANT,
}

ASSISTANT_KINDS: Final = frozenset({ContentKind.ASSISTANT_PROMPT, ContentKind.ASSISTANT_RESPONSE})


class Reason(IntEnum):
    """Why an item is excluded. The integer order IS the precedence: the lowest that applies wins.

    ``ELIGIBLE`` (0) means no reason applies. Stored as int8 in Arrow batches; ``code`` is the
    stable string used in manifests and reports.
    """

    ELIGIBLE = 0
    ACCOUNT_DELETED = 1
    ACCOUNT_INACTIVE = 2
    MINOR = 3
    AGE_UNKNOWN = 4
    PROTECTED_ACCOUNT = 5
    DIRECT_MESSAGE = 6
    NOT_PUBLIC = 7
    CONTENT_DELETED = 8
    NO_CONSENT = 9
    CONSENT_DENIED = 10
    NO_SHARE_CONSENT = 11
    DUPLICATE = 12
    #: A repost or boost whose original the input does not hold (an archive names the original
    #: but never carries it), so it cannot stand with its original. Apart from
    #: ``CONTENT_DELETED`` (the repost itself deleted) so that counts tell the truth. Like
    #: ``DUPLICATE`` it is settled by the census among otherwise eligible items; the two never
    #: meet (reposts are not deduplicated), so last is its place, and no code is renumbered.
    ORIGINAL_UNAVAILABLE = 13

    @property
    def code(self) -> str:
        return self.name.lower()

    @classmethod
    def from_code(cls, code: str) -> Reason:
        try:
            return cls[code.upper()]
        except KeyError:
            raise ValueError(f"unknown reason code {code!r}") from None


EXCLUSION_CODES: Final = tuple(r.code for r in Reason if r is not Reason.ELIGIBLE)


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    """One person's choice for one purpose, optionally narrowed to a scope or a recipient.

    ``recipient`` only makes sense for ``share``: a share decision without recipient covers every
    third party; one naming a recipient covers that recipient only (and wins over the generic one
    when later).
    """

    account_id: str
    purpose: str
    decision: Decision
    at: datetime
    source: Source = Source.CLI
    scope: Scope | None = None
    notice_version: str | None = None
    recipient: str | None = None


#: Account attributes the ledger tracks: what eligibility needs, and nothing more (handles and
#: display names are personal data that belong in the content store, where they can be erased).
ACCOUNT_ATTRIBUTES: Final = ("country", "birth_date", "protected", "status")


@dataclass(frozen=True, slots=True)
class AccountChange:
    """A change of an account's state: its creation, or new values for some attributes.

    ``attrs`` maps attribute names from ``ACCOUNT_ATTRIBUTES`` to their new value
    (country: ISO 3166 alpha-2 or None, birth_date: ``date`` or None, protected: bool,
    status: ``AccountStatus``).
    """

    account_id: str
    at: datetime
    attrs: Mapping[str, object] = field(default_factory=dict)
    created: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.attrs) - set(ACCOUNT_ATTRIBUTES)
        if unknown:
            raise ValueError(f"unknown account attribute(s): {', '.join(sorted(unknown))}")


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account's state as of a ledger position (the fold of its ``AccountChange`` entries)."""

    account_id: str
    country: str | None = None
    birth_date: date | None = None
    protected: bool = False
    status: AccountStatus = AccountStatus.ACTIVE
    known: bool = True
