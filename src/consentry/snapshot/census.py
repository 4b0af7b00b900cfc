"""Pass 1 of a build: the verdict of every content item, before anything is written.

Some verdicts need the whole platform, not one batch: a duplicate is only known once every
earlier identical text has been seen, and a repost carries someone else's words, so it follows
its original's verdict wherever the original sits in the stream. The census therefore walks all
items once, keeping per item a 64-bit content key, its reason code and the ledger entry that
authorised it (17 bytes an item), and settles those global verdicts at the end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import hash_ids
from consentry.model import ContentKind, Reason
from consentry.policy import Policy, verdicts
from consentry.policy.frame import StateIndex

CENSUS_COLUMNS: Final = (
    "content_id",
    "author_id",
    "kind",
    "visibility",
    "deleted_at",
    "created_at",
    "text",
    "repost_of",
)
NO_ENTRY: Final = -1  # authorised by the policy's default, not by a ledger entry

U64 = npt.NDArray[np.uint64]


def content_keys(ids: Any) -> U64:
    """64-bit keys of content ids, vectorised (``consentry.content.buckets.hash_ids``); nulls
    key to 0. Keys only link items to each other (replies, quotes, reposts): they never decide
    whose consent applies, which goes by the account id itself."""
    keys = hash_ids(ids)
    nulls = pc.is_null(ids).to_numpy(zero_copy_only=False)
    keys[nulls] = 0
    return keys


def normalised_text(text: Any) -> Any:
    """What counts as the same text for exact deduplication: NFKC, case-folded, whitespace
    collapsed and trimmed."""
    folded = pc.utf8_lower(pc.utf8_normalize(text, "NFKC"))
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(folded, r"\s+", " "))


def _text_hashes(texts: list[str | None]) -> npt.NDArray[np.void]:
    # 128 bits: a collision would silently drop someone's post as a duplicate.
    blake = hashlib.blake2b
    buf = b"".join(blake((t or "").encode("utf-8"), digest_size=16).digest() for t in texts)
    return np.frombuffer(buf, dtype="V16")


def contains(sorted_keys: U64, keys: U64) -> npt.NDArray[np.bool_]:
    """Membership of ``keys`` in an ascending array, vectorised."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=np.bool_)
    pos = np.searchsorted(sorted_keys, keys)
    pos[pos >= len(sorted_keys)] = 0
    found: npt.NDArray[np.bool_] = sorted_keys[pos] == keys
    return found


@dataclass
class Census:
    """Verdicts of every item of one build, in scan order."""

    keys: U64
    reasons: npt.NDArray[np.int8]
    consent_entry: npt.NDArray[np.int64]
    age_unknown_included: int = 0
    #: Keys of the included items, ascending (set by ``settle``).
    included_keys: U64 = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    def settle(self) -> None:
        self.included_keys = np.sort(self.keys[self.reasons == Reason.ELIGIBLE])

    @property
    def rows(self) -> int:
        return len(self.keys)

    def counts(self) -> dict[str, int]:
        counts = np.bincount(self.reasons.astype(np.int64), minlength=len(Reason))
        return {Reason(i).code: int(n) for i, n in enumerate(counts) if i and n}

    @property
    def included(self) -> int:
        return int(np.count_nonzero(self.reasons == Reason.ELIGIBLE))


def take_census(
    batches: Iterable[pa.RecordBatch],
    index: StateIndex,
    policy: Policy,
    *,
    on: date,
    progress: Callable[[int], None] | None = None,
) -> Census:
    keys: list[U64] = []
    reasons: list[npt.NDArray[np.int8]] = []
    entries: list[npt.NDArray[np.int64]] = []
    reposts_of: list[U64] = []
    repost_masks: list[npt.NDArray[np.bool_]] = []
    created: list[npt.NDArray[np.int64]] = []
    text_rows: list[npt.NDArray[np.int64]] = []
    text_hashes: list[npt.NDArray[np.void]] = []
    age_unknown = 0
    offset = 0
    recipient = index.recipient
    for batch in batches:
        n = batch.num_rows
        items = pa.table(
            {
                "author_id": batch.column("author_id"),
                "kind": batch.column("kind"),
                "visibility": batch.column("visibility"),
                "deleted": pc.is_valid(batch.column("deleted_at")),
            }
        )
        frame = index.frame(items)
        reason = verdicts(frame, policy, index.purpose, recipient=recipient, on=on)
        keys.append(content_keys(batch.column("content_id")))
        reasons.append(reason)
        entries.append(
            pc.fill_null(frame["consent_seq"], NO_ENTRY).to_numpy().astype(np.int64, copy=False)
        )
        reposts_of.append(content_keys(batch.column("repost_of")))
        eligible = reason == Reason.ELIGIBLE
        age_unknown += int(np.count_nonzero(eligible & _is_null(frame["birth_date"])))
        is_repost = _mask(pc.equal(batch.column("kind"), ContentKind.REPOST.value))
        repost_masks.append(is_repost)
        with_text = np.nonzero(eligible & ~is_repost)[0]
        if len(with_text):
            rows = pa.array(with_text)
            texts = normalised_text(batch.column("text").take(rows)).to_pylist()
            text_hashes.append(_text_hashes(texts))
            text_rows.append(with_text + offset)
            created.append(
                batch.column("created_at")
                .take(rows)
                .cast(pa.int64())
                .to_numpy(zero_copy_only=False)
            )
        offset += n
        if progress:
            progress(n)
    census = Census(
        keys=_cat(keys, np.uint64),
        reasons=_cat(reasons, np.int8),
        consent_entry=_cat(entries, np.int64),
        age_unknown_included=age_unknown,
    )
    _mark_duplicates(
        census,
        _cat(text_rows, np.int64),
        np.concatenate(text_hashes) if text_hashes else np.empty(0, dtype="V16"),
        _cat(created, np.int64),
    )
    _settle_reposts(census, _cat(repost_masks, np.bool_), _cat(reposts_of, np.uint64))
    census.settle()
    return census


def _mark_duplicates(
    census: Census,
    rows: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.void],
    created: npt.NDArray[np.int64],
) -> None:
    """Of identical normalised texts, keep the earliest (then the smallest content key)."""
    if len(rows) < 2:
        return
    keys = census.keys[rows]
    as_bytes = hashes.view(np.uint64).reshape(-1, 2)
    order = np.lexsort((keys, created, as_bytes[:, 1], as_bytes[:, 0]))
    h = as_bytes[order]
    same_as_previous = np.zeros(len(order), dtype=np.bool_)
    same_as_previous[1:] = (h[1:] == h[:-1]).all(axis=1)
    census.reasons[rows[order[same_as_previous]]] = Reason.DUPLICATE


def _settle_reposts(census: Census, is_repost: npt.NDArray[np.bool_], originals: U64) -> None:
    """An otherwise eligible repost takes its original's verdict; a missing or unnamed original
    counts as deleted content. Repeated in case an original is itself a repost."""
    reposts = np.nonzero(is_repost & (census.reasons == Reason.ELIGIBLE))[0]
    if len(reposts) == 0:
        return
    order = np.argsort(census.keys, kind="stable")
    sorted_keys = census.keys[order]
    for _ in range(3):
        pos = np.searchsorted(sorted_keys, originals[reposts])
        pos[pos >= len(sorted_keys)] = 0
        found = (sorted_keys[pos] == originals[reposts]) & (originals[reposts] != 0)
        original_reason = np.where(
            found, census.reasons[order[pos]], np.int8(Reason.CONTENT_DELETED)
        ).astype(np.int8)
        changed = original_reason != census.reasons[reposts]
        census.reasons[reposts] = original_reason
        if not changed.any():
            break


def _cat(parts: list[Any], dtype: Any) -> Any:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)


def _mask(arr: Any) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = pc.fill_null(arr, False).to_numpy(zero_copy_only=False)
    return out


def _is_null(arr: Any) -> npt.NDArray[np.bool_]:
    return _mask(pc.is_null(arr))
