"""The one place that decides a verdict: eligible, or exactly one reason code.

It works on whole Arrow batches (an *eligibility frame*: one row per content item, with its
author's state and the consent that governs the item's scope already attached). Each exclusion
rule is a small function in ``RULES``, ordered by ``Reason`` precedence; ``numpy.select`` then
picks, row by row, the first rule that applies, so a row carries exactly one reason.

Frame columns (see ``FRAME_SCHEMA``):

- item: ``kind``, ``visibility``, ``deleted`` (bool)
- author, as of the position: ``account_known`` (bool), ``status``, ``protected``,
  ``birth_date`` (date32, null = unknown), ``country``
- consent, as of the position, for the item's scope: ``consent`` (int8: 1 grant, 0 deny,
  null = never decided) and, for recipient snapshots, ``share`` (same encoding)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.masks import bool_mask
from consentry.model import (
    ASSISTANT_KINDS,
    SHARE,
    AccountState,
    AccountStatus,
    ContentKind,
    Decision,
    Reason,
    Visibility,
)
from consentry.policy.loader import Policy

GRANT: Final = 1
DENY: Final = 0

FRAME_SCHEMA: Final = pa.schema(
    [
        ("kind", pa.string()),
        ("visibility", pa.string()),
        ("deleted", pa.bool_()),
        ("account_known", pa.bool_()),
        ("status", pa.string()),
        ("protected", pa.bool_()),
        ("birth_date", pa.date32()),
        ("country", pa.string()),
        ("consent", pa.int8()),
        ("share", pa.int8()),
    ]
)

Mask = npt.NDArray[np.bool_]
Frame: TypeAlias = Any  # a pyarrow Table or RecordBatch (pyarrow is untyped here)


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule may look at besides the frame."""

    policy: Policy
    purpose: str
    recipient: bool
    on: date


def _col(frame: Frame, name: str) -> pa.Array | pa.ChunkedArray:
    return frame.column(name)


def _account_deleted(frame: Frame, ctx: Context) -> Mask:
    gone = pa.array([AccountStatus.DELETED.value, AccountStatus.ERASED.value])
    return bool_mask(pc.is_in(_col(frame, "status"), value_set=gone))


def _account_inactive(frame: Frame, ctx: Context) -> Mask:
    # An author the ledger did not know as of the position is never included, whatever the
    # policy says about inactive accounts: nothing is known of its age or protection.
    unknown = ~bool_mask(_col(frame, "account_known"))
    if Reason.ACCOUNT_INACTIVE not in ctx.policy.exclusions:
        return unknown
    inactive = pc.is_in(
        _col(frame, "status"),
        value_set=pa.array([AccountStatus.DEACTIVATED.value, AccountStatus.SUSPENDED.value]),
    )
    return unknown | bool_mask(inactive)


def adult_cutoff(on: date, minimum_age: int) -> date:
    """Latest birth date of someone at least ``minimum_age`` on ``on``.

    Born on 29 February: the cutoff falls back to 28 February, so such a person counts as a
    minor one day longer rather than one day shorter.
    """
    try:
        return on.replace(year=on.year - minimum_age)
    except ValueError:
        return on.replace(year=on.year - minimum_age, day=28)


def _minor(frame: Frame, ctx: Context) -> Mask:
    policy = ctx.policy
    birth = _col(frame, "birth_date")
    cutoff = pa.scalar(adult_cutoff(ctx.on, policy.minimum_age), pa.date32())
    minor = bool_mask(pc.greater(birth, cutoff))
    overrides = {
        c: j.minimum_age for c, j in policy.jurisdictions.items() if j.minimum_age is not None
    }
    if overrides:
        country = _col(frame, "country")
        for code, age in overrides.items():
            assert age is not None
            here = bool_mask(pc.equal(country, code))
            local = bool_mask(pc.greater(birth, pa.scalar(adult_cutoff(ctx.on, age), pa.date32())))
            minor = np.where(here, local, minor)
    return minor


def _age_unknown(frame: Frame, ctx: Context) -> Mask:
    if ctx.policy.unknown_age == "include":
        return np.zeros(frame.num_rows, dtype=np.bool_)
    return bool_mask(pc.is_null(_col(frame, "birth_date")))


def _protected(frame: Frame, ctx: Context) -> Mask:
    return bool_mask(_col(frame, "protected"))


def _direct_message(frame: Frame, ctx: Context) -> Mask:
    return bool_mask(pc.equal(_col(frame, "kind"), ContentKind.DM.value))


def _not_public(frame: Frame, ctx: Context) -> Mask:
    # Assistant conversations are private by nature: their owner's consent governs them.
    kind = _col(frame, "kind")
    assistant = pc.is_in(kind, value_set=pa.array(sorted(k.value for k in ASSISTANT_KINDS)))
    public = pc.equal(_col(frame, "visibility"), Visibility.PUBLIC.value)
    return bool_mask(pc.invert(pc.or_kleene(public, assistant)))


def _content_deleted(frame: Frame, ctx: Context) -> Mask:
    return bool_mask(_col(frame, "deleted"))


def _default_grants(frame: Frame, ctx: Context, purpose: str) -> Mask:
    """Rows whose author's jurisdiction defaults to ``grant`` for ``purpose``."""
    policy = ctx.policy
    base = policy.default_for(None, purpose)
    flipped = [c for c in policy.jurisdictions if policy.default_for(c, purpose) != base]
    in_flipped = (
        bool_mask(pc.is_in(_col(frame, "country"), value_set=pa.array(flipped)))
        if flipped
        else np.zeros(frame.num_rows, dtype=np.bool_)
    )
    return ~in_flipped if base is Decision.GRANT else in_flipped


def _undecided(frame: Frame, column: str) -> Mask:
    return bool_mask(pc.is_null(_col(frame, column)))


def _no_consent(frame: Frame, ctx: Context) -> Mask:
    return _undecided(frame, "consent") & ~_default_grants(frame, ctx, ctx.purpose)


def _consent_denied(frame: Frame, ctx: Context) -> Mask:
    return bool_mask(pc.equal(_col(frame, "consent"), DENY))


def _no_share_consent(frame: Frame, ctx: Context) -> Mask:
    if not ctx.recipient or ctx.purpose == SHARE:
        return np.zeros(frame.num_rows, dtype=np.bool_)
    denied = bool_mask(pc.equal(_col(frame, "share"), DENY))
    return denied | (_undecided(frame, "share") & ~_default_grants(frame, ctx, SHARE))


Rule = Callable[[Frame, Context], Mask]

#: Exclusion rules in precedence order (docs/concepts.md). ``duplicate`` and
#: ``original_unavailable`` (a repost whose original the input lacks) come last: the snapshot's
#: census decides them after eligibility, among eligible items only (``consentry.snapshot.census``).
RULES: Final[Sequence[tuple[Reason, Rule]]] = (
    (Reason.ACCOUNT_DELETED, _account_deleted),
    (Reason.ACCOUNT_INACTIVE, _account_inactive),
    (Reason.MINOR, _minor),
    (Reason.AGE_UNKNOWN, _age_unknown),
    (Reason.PROTECTED_ACCOUNT, _protected),
    (Reason.DIRECT_MESSAGE, _direct_message),
    (Reason.NOT_PUBLIC, _not_public),
    (Reason.CONTENT_DELETED, _content_deleted),
    (Reason.NO_CONSENT, _no_consent),
    (Reason.CONSENT_DENIED, _consent_denied),
    (Reason.NO_SHARE_CONSENT, _no_share_consent),
)


def verdicts(
    frame: Frame, policy: Policy, purpose: str, *, recipient: bool, on: date
) -> npt.NDArray[np.int8]:
    """Reason code per row (``Reason.ELIGIBLE`` = 0 when the item may be used).

    ``on`` is the date ages are computed at (the snapshot's as-of date). ``recipient`` says the
    snapshot goes to a third party, which also requires ``share`` consent.
    """
    policy.require_purpose(purpose)
    ctx = Context(policy, purpose, recipient, on)
    masks = [rule(frame, ctx) for _, rule in RULES]
    codes = [np.int8(reason.value) for reason, _ in RULES]
    out: npt.NDArray[np.int8] = np.select(masks, codes, default=np.int8(Reason.ELIGIBLE)).astype(
        np.int8, copy=False
    )
    return out


def decision_code(decision: Decision | None) -> int | None:
    if decision is None:
        return None
    return GRANT if decision is Decision.GRANT else DENY


def verdict(
    account: AccountState,
    *,
    kind: ContentKind,
    visibility: Visibility,
    deleted: bool,
    consent: Decision | None,
    share: Decision | None,
    policy: Policy,
    purpose: str,
    recipient: bool,
    on: date,
) -> Reason:
    """The verdict for a single item: a one-row frame through ``verdicts``, so that one item and a
    million take exactly the same path."""
    frame = pa.table(
        {
            "kind": [kind.value],
            "visibility": [visibility.value],
            "deleted": [deleted],
            "account_known": [account.known],
            "status": [account.status.value if account.known else None],
            "protected": [account.protected],
            "birth_date": [account.birth_date],
            "country": [account.country],
            "consent": [decision_code(consent)],
            "share": [decision_code(share)],
        },
        schema=FRAME_SCHEMA,
    )
    return Reason(int(verdicts(frame, policy, purpose, recipient=recipient, on=on)[0]))
