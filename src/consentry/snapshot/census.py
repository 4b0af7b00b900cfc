"""Pass 1 of a build: the verdict of every content item, before anything is written.

Some verdicts need the whole platform, not one batch: a duplicate is only known once every
earlier identical text has been seen, and a repost carries someone else's words, so it follows
its original's verdict wherever the original sits in the stream. The census therefore walks all
items once and settles those global verdicts at the end.

Memory: only the reason codes stay in memory while the census runs, one int8 per item,
because settling rewrites them anywhere; once settled they go to an unlinked temporary file
(``SpilledInts``), as the authorising ledger entry of each item (int64) does while scanning:
pass 2 and compliance read both a batch at a time, in scan order. Everything else the
settling needs is spilled to a temporary folder while scanning and read back in pieces: each
item's 64-bit content key (in scan order, streamed once to find reposted originals and once to
collect the included keys), and the text hashes of eligible items, partitioned by hash so
that duplicates are settled one partition at a time (identical texts share a partition). Peak
memory is then flat in the number of items, apart from that byte during the census, the
included keys (8 bytes per included item, which pass 2 needs for references) and the eligible
reposts.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import hash_ids
from consentry.hashing import digests
from consentry.model import ContentKind, Reason
from consentry.policy import Policy, verdicts
from consentry.policy.frame import StateIndex
from consentry.snapshot.nfkc import NFKC_CHANGEABLE
from consentry.snapshot.spilled import SpilledInts, SpilledView

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

#: Duplicate candidates are spilled into this many files by the top bits of their text hash;
#: settling one at a time holds 1/64 of them (at 10M posts: ~1.6M candidates, ~1 MB a file).
DEDUP_PARTITIONS: Final = 64
_PARTITION_SHIFT: Final = np.uint64(64 - 6)  # log2(DEDUP_PARTITIONS) top bits
#: Items per piece when spilled keys are read back (2 MB): settling reposts makes a few
#: temporaries of a piece's size (8 MB pieces put the 1M-post build's peak there).
READ_CHUNK: Final = 1 << 18
#: Rows per verdict call: content comes in batches as small as one bucket's share of the
#: platform (a few thousand rows at 1M items), and each call has a fixed cost of some
#: milliseconds (one frame, a dozen rules, a few Arrow kernels each). Each call's working set
#: (texts normalised and hashed, the frame) sets the census's peak memory: 32k rows cost no
#: more CPU than 64k (measured at 1M and 10M posts) and ~15 MB less resident memory.
SCAN_CHUNK: Final = 32_768
_DEDUP: Final = np.dtype(
    [("h0", "<u8"), ("h1", "<u8"), ("created", "<i8"), ("key", "<u8"), ("row", "<i8")]
)

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
    collapsed and trimmed.

    The two costly kernels run only on the rows they can change (same result, a fraction of
    the time): NFKC only on texts holding a character it can change (``NFKC_CHANGEABLE``, one
    RE2 scan: almost no text), and collapsing ``\\s+`` to one space only where a text holds a
    whitespace other than a space, or two whitespaces in a row (found by one regex search, far
    cheaper than a replacement)."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    changeable = pc.fill_null(pc.match_substring_regex(text, NFKC_CHANGEABLE), False)
    text = _replace_where(text, changeable, lambda sub: pc.utf8_normalize(sub, "NFKC"))
    folded = pc.utf8_lower(text)
    spaced = pc.fill_null(pc.match_substring_regex(folded, r"[^\S ]|\s\s"), False)
    folded = _replace_where(
        folded, spaced, lambda sub: pc.replace_substring_regex(sub, r"\s+", " ")
    )
    return pc.utf8_trim_whitespace(folded)


def _replace_where(arr: pa.Array, mask: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> Any:
    """``arr`` with the rows where ``mask`` holds replaced by ``fn`` of them."""
    if not pc.any(mask).as_py():
        return arr
    return pc.replace_with_mask(arr, mask, fn(arr.filter(mask)))


def _text_hashes(texts: Any) -> npt.NDArray[np.void]:
    """128-bit BLAKE2b of each text's UTF-8 bytes (null: of no bytes). 128 bits: a collision
    would silently drop someone's post as a duplicate."""
    # Bytes straight from Arrow (no str decoded to be encoded again), each hash from a copy
    # of an empty state (cheaper than a constructor call with parameters).
    data = pc.fill_null(texts.cast(pa.binary()), b"").to_pylist()
    empty = hashlib.blake2b(digest_size=16)
    buf = b"".join(digests(empty, data))
    return np.frombuffer(buf, dtype="V16")


def coalesced(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The same rows in the same order, in batches of at least ``rows`` (the last may be
    smaller, none is empty): consecutive batches are joined."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield _joined(pending)
            pending, size = [], 0
    if size:
        yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    if table.num_rows == 0:
        return batches[0]
    joined: pa.RecordBatch = table.to_batches()[0]
    return joined


def contains(sorted_keys: U64, keys: U64) -> npt.NDArray[np.bool_]:
    """Membership of ``keys`` in an ascending array, vectorised."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=np.bool_)
    # Searching the keys in ascending order is ~5x faster on millions of sorted keys (numpy
    # starts each search where the previous one ended, and memory is walked forwards).
    order = np.argsort(keys)
    ordered = keys[order]
    pos = np.searchsorted(sorted_keys, ordered)
    pos[pos >= len(sorted_keys)] = 0
    found: npt.NDArray[np.bool_] = np.empty(len(keys), dtype=np.bool_)
    found[order] = sorted_keys[pos] == ordered
    return found


@dataclass
class Census:
    """Verdicts of every item of one build, in scan order: ``reasons_between(offset, end)`` and
    ``entries_between(offset, end)`` are those of the batch the scan yields at ``offset``."""

    #: Each item's reason code (int8, ``Reason``), on disk once settled.
    verdicts: SpilledInts
    #: The ledger entry that authorised each item (``NO_ENTRY``: the policy's default).
    entries: SpilledInts
    #: Items per reason code (index: ``Reason``).
    tally: npt.NDArray[np.int64]
    age_unknown_included: int = 0
    #: Content keys of the included items, ascending (references resolve against them).
    included_keys: U64 = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    @property
    def rows(self) -> int:
        return len(self.verdicts)

    @property
    def reasons(self) -> SpilledView:
        """Every item's reason code, as an array-like read from disk where sliced."""
        return self.verdicts.view()

    @property
    def consent_entry(self) -> SpilledView:
        """Every item's authorising entry, as an array-like read from disk where sliced."""
        return self.entries.view()

    def reasons_between(self, start: int, end: int) -> npt.NDArray[np.int8]:
        out: npt.NDArray[np.int8] = self.verdicts.between(start, end)
        return out

    def entries_between(self, start: int, end: int) -> npt.NDArray[np.int64]:
        out: npt.NDArray[np.int64] = self.entries.between(start, end)
        return out

    def counts(self) -> dict[str, int]:
        """Items excluded, per reason code."""
        return {Reason(i).code: int(n) for i, n in enumerate(self.tally) if i and n}

    @property
    def included(self) -> int:
        return int(self.tally[Reason.ELIGIBLE])


class _Column:
    """A numpy column appended batch by batch. With the expected length known it is allocated
    once: no list of parts plus their concatenation (twice the memory at the end)."""

    def __init__(self, dtype: Any, expected: int | None) -> None:
        self.data = np.empty(expected or 0, dtype=dtype)
        self.size = 0

    def append(self, part: npt.NDArray[Any]) -> None:
        end = self.size + len(part)
        if end > len(self.data):  # more items than expected: grow geometrically
            grown = np.empty(max(end, 2 * len(self.data), 1024), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = part
        self.size = end

    def result(self) -> Any:
        return self.data if self.size == len(self.data) else self.data[: self.size].copy()


class _Spill:
    """What the census settles at the end, on disk in a temporary folder while it scans."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.keys_path = folder / "keys.u64"
        self.keys: IO[bytes] = self.keys_path.open("wb", buffering=1 << 20)
        self.parts: list[IO[bytes]] = [
            (folder / f"dedup-{p:02d}.bin").open("wb", buffering=1 << 16)
            for p in range(DEDUP_PARTITIONS)
        ]

    def add_keys(self, keys: U64) -> None:
        self.keys.write(keys.astype("<u8", copy=False).tobytes())

    def add_candidates(self, records: npt.NDArray[np.void]) -> None:
        part = (records["h0"] >> _PARTITION_SHIFT).astype(np.int64)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(DEDUP_PARTITIONS + 1))
        for p in range(DEDUP_PARTITIONS):
            lo, hi = int(bounds[p]), int(bounds[p + 1])
            if hi > lo:
                self.parts[p].write(records[order[lo:hi]].tobytes())

    def close(self) -> None:
        self.keys.close()
        for fh in self.parts:
            fh.close()

    def key_chunks(self) -> Iterator[tuple[int, U64]]:
        """(scan offset, keys) of every item, a piece at a time."""
        offset = 0
        with self.keys_path.open("rb") as fh:
            while True:
                chunk = np.fromfile(fh, dtype="<u8", count=READ_CHUNK)
                if len(chunk) == 0:
                    return
                yield offset, chunk.astype(np.uint64, copy=False)
                offset += len(chunk)

    def partitions(self) -> Iterator[npt.NDArray[np.void]]:
        for p in range(DEDUP_PARTITIONS):
            yield np.fromfile(self.folder / f"dedup-{p:02d}.bin", dtype=_DEDUP)


def take_census(
    batches: Iterable[pa.RecordBatch],
    index: StateIndex,
    policy: Policy,
    *,
    on: date,
    progress: Callable[[int], None] | None = None,
    expected_rows: int | None = None,
    spill_dir: Path | None = None,
) -> Census:
    """The census of every item ``batches`` yield. ``expected_rows`` (a hint: the scan's row
    count) lets the verdict arrays be allocated once; ``spill_dir``: where the temporary folder
    goes (the system's temporary directory by default)."""
    entries = SpilledInts(spill_dir)
    with tempfile.TemporaryDirectory(prefix="consentry-census-", dir=spill_dir) as tmp:
        spill = _Spill(Path(tmp))
        try:
            reasons, age_unknown, repost_rows, repost_originals = _scan(
                coalesced(batches, SCAN_CHUNK),
                index,
                policy,
                on,
                progress,
                expected_rows,
                spill,
                entries,
            )
        finally:
            spill.close()
            entries.finish()
        _mark_duplicates(reasons, spill.partitions())
        _settle_reposts(reasons, repost_rows, repost_originals, spill.key_chunks)
        tally = _reason_counts(reasons)
        included_keys = _included_keys(reasons, int(tally[Reason.ELIGIBLE]), spill.key_chunks())
    # Settled, the verdicts are only read by range, in scan order: to disk with them (a byte
    # per item that would otherwise stay resident through the records pass and compliance).
    verdicts = SpilledInts(spill_dir, np.int8)
    verdicts.append(reasons)
    verdicts.finish()
    return Census(verdicts, entries, tally, age_unknown, included_keys)


def _scan(
    batches: Iterable[pa.RecordBatch],
    index: StateIndex,
    policy: Policy,
    on: date,
    progress: Callable[[int], None] | None,
    expected_rows: int | None,
    spill: _Spill,
    entries: SpilledInts,
) -> tuple[npt.NDArray[np.int8], int, npt.NDArray[np.int64], U64]:
    reasons = _Column(np.int8, expected_rows)
    repost_rows: list[npt.NDArray[np.int64]] = []
    repost_originals: list[U64] = []
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
        keys = content_keys(batch.column("content_id"))
        spill.add_keys(keys)
        reasons.append(reason)
        entries.append(
            pc.fill_null(frame["consent_seq"], NO_ENTRY).to_numpy().astype(np.int64, copy=False)
        )
        eligible = reason == Reason.ELIGIBLE
        age_unknown += int(np.count_nonzero(eligible & _is_null(frame["birth_date"])))
        is_repost = _mask(pc.equal(batch.column("kind"), ContentKind.REPOST.value))
        # Only an eligible repost can change verdict (it takes its original's): keep those.
        reposts = np.nonzero(eligible & is_repost)[0]
        if len(reposts):
            repost_rows.append(reposts + offset)
            repost_originals.append(content_keys(batch.column("repost_of").take(pa.array(reposts))))
        with_text = np.nonzero(eligible & ~is_repost)[0]
        if len(with_text):
            rows = pa.array(with_text)
            texts = normalised_text(batch.column("text").take(rows))
            hashes = _text_hashes(texts).view("<u8").reshape(-1, 2)
            records = np.empty(len(with_text), dtype=_DEDUP)
            records["h0"] = hashes[:, 0]
            records["h1"] = hashes[:, 1]
            records["created"] = (
                batch.column("created_at")
                .take(rows)
                .cast(pa.int64())
                .to_numpy(zero_copy_only=False)
            )
            records["key"] = keys[with_text]
            records["row"] = with_text + offset
            spill.add_candidates(records)
        offset += n
        if progress:
            progress(n)
    return (
        reasons.result(),
        age_unknown,
        _cat(repost_rows, np.int64),
        _cat(repost_originals, np.uint64),
    )


def _mark_duplicates(
    reasons: npt.NDArray[np.int8], partitions: Iterable[npt.NDArray[np.void]]
) -> None:
    """Of identical normalised texts, keep the earliest (then the smallest content key).
    Identical texts have identical hashes, hence share a partition: each is settled alone."""
    for part in partitions:
        if len(part) < 2:
            continue
        order = np.lexsort((part["key"], part["created"], part["h1"], part["h0"]))
        h0, h1 = part["h0"][order], part["h1"][order]
        same_as_previous = np.zeros(len(order), dtype=np.bool_)
        same_as_previous[1:] = (h0[1:] == h0[:-1]) & (h1[1:] == h1[:-1])
        reasons[part["row"][order[same_as_previous]]] = Reason.DUPLICATE


def _settle_reposts(
    reasons: npt.NDArray[np.int8],
    rows: npt.NDArray[np.int64],
    originals: U64,
    key_chunks: Callable[[], Iterator[tuple[int, U64]]],
) -> None:
    """An otherwise eligible repost (``rows``) takes its original's verdict; a missing or
    unnamed original counts as deleted content. Repeated in case an original is itself a
    repost. Originals are found by streaming the spilled keys once: of items sharing a key,
    the first in scan order."""
    if len(rows) == 0:
        return
    wanted = np.unique(originals[originals != 0])
    where = np.full(len(wanted), -1, dtype=np.int64)  # scan row of each wanted original
    if len(wanted):
        maybe = _KeyFilter(wanted)
        for offset, keys in key_chunks():
            # Only the few keys the filter lets through are searched for (a binary search of
            # every item's key cost seconds at 10M items).
            candidates = np.nonzero(maybe.may_hold(keys))[0]
            pos = np.searchsorted(wanted, keys[candidates])
            pos[pos >= len(wanted)] = 0
            matched = np.nonzero(wanted[pos] == keys[candidates])[0]
            if len(matched) == 0:
                continue
            hit, pos = candidates[matched], pos[matched]  # ascending scan rows
            first_pos, first = np.unique(pos, return_index=True)  # earliest row per key
            unset = where[first_pos] < 0
            where[first_pos[unset]] = hit[first[unset]] + offset
    slot = np.searchsorted(wanted, originals)
    slot[slot >= len(wanted)] = 0
    if len(wanted):
        found = (wanted[slot] == originals) & (originals != 0)
        found &= where[slot] >= 0
        original_row = np.where(found, where[slot], 0)
    else:
        found = np.zeros(len(rows), dtype=np.bool_)
        original_row = np.zeros(len(rows), dtype=np.int64)
    # Until nothing changes: a chain of reposts settles one link per round, whatever its length
    # (a fixed number of rounds once left the end of a long chain included).
    for _ in range(len(rows) + 1):
        original_reason = np.where(
            found, reasons[original_row], np.int8(Reason.CONTENT_DELETED)
        ).astype(np.int8)
        changed = original_reason != reasons[rows]
        reasons[rows] = original_reason
        if not changed.any():
            break


class _KeyFilter:
    """A bitmap of the top bits of a set of 64-bit keys (512 KB): a key whose bit is clear is
    certainly not in the set; one whose bit is set may be (keys are uniformly mixed hashes:
    with a million keys in the set, about one key in five outside it passes)."""

    BITS: Final = 22

    def __init__(self, keys: U64) -> None:
        present = np.zeros(1 << self.BITS, dtype=np.bool_)
        present[self._slots(keys)] = True
        self._bitmap = np.packbits(present, bitorder="little")

    def _slots(self, keys: U64) -> npt.NDArray[np.int64]:
        out: npt.NDArray[np.int64] = (keys >> np.uint64(64 - self.BITS)).astype(np.int64)
        return out

    def may_hold(self, keys: U64) -> npt.NDArray[np.bool_]:
        slots = self._slots(keys)
        out: npt.NDArray[np.bool_] = (
            (self._bitmap[slots >> 3] >> (slots & 7).astype(np.uint8)) & 1
        ).astype(np.bool_)
        return out


def _included_keys(
    reasons: npt.NDArray[np.int8], included: int, key_chunks: Iterable[tuple[int, U64]]
) -> U64:
    # Filled in place and sorted in place: one array of the final size, not parts, their
    # concatenation and a sorted copy (three times 8 bytes per included item at once).
    out = np.empty(included, dtype=np.uint64)
    end = 0
    for offset, keys in key_chunks:
        kept = keys[reasons[offset : offset + len(keys)] == Reason.ELIGIBLE]
        out[end : end + len(kept)] = kept
        end += len(kept)
    if end != len(out):
        raise RuntimeError(f"{end} keys spilled for {len(out)} included items")
    out.sort()
    return out


def _reason_counts(reasons: npt.NDArray[np.int8]) -> npt.NDArray[np.int64]:
    """Items per reason, a slice at a time: ``np.bincount`` widens its input to int64, which
    over every item at once was a transient 8 bytes per item (80 MB at 10M items, the build's
    peak at the time)."""
    counts = np.zeros(len(Reason), dtype=np.int64)
    for start in range(0, len(reasons), READ_CHUNK):
        counts += np.bincount(reasons[start : start + READ_CHUNK], minlength=len(Reason))
    return counts


def _cat(parts: list[Any], dtype: Any) -> Any:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)


def _mask(arr: Any) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = pc.fill_null(arr, False).to_numpy(zero_copy_only=False)
    return out


def _is_null(arr: Any) -> npt.NDArray[np.bool_]:
    return _mask(pc.is_null(arr))
