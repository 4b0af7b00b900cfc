"""Pass 1 of a build: the verdict of every content item, before anything is written.

Some verdicts need the whole platform, not one batch: a duplicate is only known once every
earlier identical text has been seen, and a repost carries someone else's words, so it follows
its original's verdict wherever the original sits in the stream. The census therefore walks all
items once and settles those global verdicts at the end.

Memory: nothing is held per item. Each item's verdict as scanned (int8) and authorising
ledger entry (int64) go to unlinked temporary files (``SpilledInts``) as the scan goes, as do
each item's 64-bit content key (in scan order, streamed once to find reposted originals and
once more while settling) and the text hashes of eligible items, partitioned by hash so that
duplicates are found one partition at a time (identical texts share a partition). Settling
changes only eligible items, kept as patches (the rows of duplicates; the rows of eligible
reposts and their new verdicts), and the settled verdicts are written by streaming the
scanned ones through them: pass 2 and compliance read verdicts and entries a batch at a time,
in scan order. What grows with the platform is then the patches (16 bytes per duplicate or
eligible repost, at most) and the included keys (8 bytes per included item, which pass 2 needs
for references). Settling the verdicts in an array of every item instead cost a byte per item
through the census, and a copy of it when spilled (at 10M items, 20 MB at the census's end).
"""

from __future__ import annotations

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
from consentry.hashing import blake2b_each
from consentry.masks import bool_mask, is_null
from consentry.model import ContentKind, Reason
from consentry.policy import Policy, verdicts
from consentry.policy.frame import StateIndex
from consentry.snapshot.arrays import concat
from consentry.snapshot.arrays import contains as contains  # where other modules import it from
from consentry.snapshot.arrays import locate as locate
from consentry.snapshot.dedup import CANDIDATE, DEDUP_PARTITIONS, duplicate_rows, partition_of
from consentry.snapshot.nfkc import NFKC_CHANGEABLE
from consentry.snapshot.reposts import settle_reposts
from consentry.snapshot.spilled import SpilledInts, SpilledView
from consentry.string_bytes import StringBytes, as_strings

#: What a record may point to, in the order of ``Census.parents_included``'s columns.
REFERENCE_COLUMNS: Final = ("in_reply_to", "quote_of", "repost_of")
CENSUS_COLUMNS: Final = (
    "content_id",
    "author_id",
    "kind",
    "visibility",
    "deleted_at",
    "created_at",
    "text",
    *REFERENCE_COLUMNS,
)
NO_ENTRY: Final = -1  # authorised by the policy's default, not by a ledger entry

#: Items per piece when spilled keys are read back (2 MB): settling reposts makes a few
#: temporaries of a piece's size (8 MB pieces put the 1M-post build's peak there).
READ_CHUNK: Final = 1 << 18
#: Rows per verdict call: content comes in batches as small as one bucket's share of the
#: platform (a few thousand rows at 1M items), and each call has a fixed cost of some
#: milliseconds (one frame, a dozen rules, a few Arrow kernels each). Each call's working set
#: (texts normalised and hashed, the frame) sets the census's peak memory: 32k rows cost no
#: more CPU than 64k (measured at 1M and 10M posts) and ~15 MB less resident memory.
SCAN_CHUNK: Final = 32_768
#: A reference of an eligible item: ``code`` = row × 3 + its column in ``REFERENCE_COLUMNS``,
#: ``key`` = the referenced item's content key.
REFERENCE: Final = np.dtype([("code", "<i8"), ("key", "<u8")])

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
    RE2 scan of the texts beyond ASCII, which NFKC leaves as they are: almost no text), and
    collapsing ``\\s+`` to one space only where a text holds a whitespace other than a space,
    or two whitespaces in a row (found by one regex search, far cheaper than a replacement)."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = as_strings(text)
    beyond_ascii = StringBytes.of(text).non_ascii_rows()
    changeable = np.zeros(len(text), dtype=np.bool_)
    if beyond_ascii.any():
        rows = np.flatnonzero(beyond_ascii)
        hit = pc.match_substring_regex(text.take(pa.array(rows)), NFKC_CHANGEABLE)
        changeable[rows] = bool_mask(hit)
    text = _replace_where(text, changeable, lambda sub: pc.utf8_normalize(sub, "NFKC"))
    folded = pc.utf8_lower(text)
    spaced = bool_mask(pc.match_substring_regex(folded, r"[^\S ]|\s\s"))
    folded = _replace_where(
        folded, spaced, lambda sub: pc.replace_substring_regex(sub, r"\s+", " ")
    )
    return pc.utf8_trim_whitespace(folded)


def _replace_where(
    arr: pa.Array, mask: npt.NDArray[np.bool_], fn: Callable[[pa.Array], pa.Array]
) -> Any:
    """``arr`` with the rows where ``mask`` holds replaced by ``fn`` of them."""
    if not mask.any():
        return arr
    chosen = pa.array(mask)
    return pc.replace_with_mask(arr, chosen, fn(arr.filter(chosen)))


def _text_hashes(texts: Any) -> npt.NDArray[np.void]:
    """128-bit BLAKE2b of each text's UTF-8 bytes (null: of no bytes). 128 bits: a collision
    would silently drop someone's post as a duplicate."""
    return np.frombuffer(blake2b_each(b"", 16, texts), dtype="V16")


def coalesced(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The same rows in the same order, in batches of at least ``rows`` (the last may be
    smaller, none is empty): consecutive batches are joined."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield joined(pending)
            pending, size = [], 0
    if size:
        yield joined(pending)


def joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """Consecutive batches (at least one) as one batch, their rows in order."""
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    if table.num_rows == 0:
        return batches[0]
    joined: pa.RecordBatch = table.to_batches()[0]
    return joined


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
    #: Content keys of the included items, ascending (interactions resolve against them);
    #: ``forget_included_keys`` once nothing needs them.
    included_keys: U64 = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    #: References between included items: row × 3 + column in ``REFERENCE_COLUMNS``, ascending.
    references: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))

    def parents_included(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """For included items (scan ``rows``): whether what each points to (one column per
        ``REFERENCE_COLUMNS``) is in the snapshot too."""
        codes = rows.astype(np.int64)[:, None] * len(REFERENCE_COLUMNS) + np.arange(
            len(REFERENCE_COLUMNS)
        )
        return contains(self.references, codes.ravel()).reshape(-1, len(REFERENCE_COLUMNS))

    def forget_included_keys(self) -> None:
        """Let the included keys go (8 bytes per included item): pass 2 asks only
        ``parents_included``."""
        self.included_keys = np.empty(0, dtype=np.uint64)

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
        self.references_path = folder / "references.bin"
        self.references: IO[bytes] = self.references_path.open("wb", buffering=1 << 20)

    def add_keys(self, keys: U64) -> None:
        self.keys.write(keys.astype("<u8", copy=False).tobytes())

    def add_candidates(self, records: npt.NDArray[np.void]) -> None:
        part = partition_of(records)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(DEDUP_PARTITIONS + 1))
        for p in range(DEDUP_PARTITIONS):
            lo, hi = int(bounds[p]), int(bounds[p + 1])
            if hi > lo:
                self.parts[p].write(records[order[lo:hi]].tobytes())

    def add_references(self, records: npt.NDArray[np.void]) -> None:
        self.references.write(records.tobytes())

    def close(self) -> None:
        self.keys.close()
        self.references.close()
        for fh in self.parts:
            fh.close()

    def reference_chunks(self) -> Iterator[npt.NDArray[np.void]]:
        with self.references_path.open("rb") as fh:
            while len(chunk := np.fromfile(fh, dtype=REFERENCE, count=READ_CHUNK)):
                yield chunk

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
            yield np.fromfile(self.folder / f"dedup-{p:02d}.bin", dtype=CANDIDATE)


def take_census(
    batches: Iterable[pa.RecordBatch],
    index: StateIndex,
    policy: Policy,
    *,
    on: date,
    progress: Callable[[int], None] | None = None,
    spill_dir: Path | None = None,
) -> Census:
    """The census of every item ``batches`` yield. ``spill_dir``: where the temporary files go
    (the system's temporary directory by default)."""
    entries = SpilledInts(spill_dir)
    scanned = SpilledInts(spill_dir, np.int8)  # each item's verdict before settling
    with tempfile.TemporaryDirectory(prefix="consentry-census-", dir=spill_dir) as tmp:
        spill = _Spill(Path(tmp))
        try:
            tally, age_unknown, repost_rows, repost_originals = _scan(
                coalesced(batches, SCAN_CHUNK), index, policy, on, progress, spill, entries, scanned
            )
        finally:
            spill.close()
            entries.finish()
            scanned.finish()
        duplicates = duplicate_rows(spill.partitions())
        reposts = settle_reposts(
            lambda rows: read_at(scanned, rows),
            duplicates,
            repost_rows,
            repost_originals,
            spill.key_chunks,
        )
        patches = Patches(duplicates, repost_rows, reposts)
        tally = patches.retally(tally)
        verdicts = SpilledInts(spill_dir, np.int8)
        included_keys = settle(
            scanned, patches, int(tally[Reason.ELIGIBLE]), spill.key_chunks(), verdicts
        )
        references = included_references(
            spill.reference_chunks(), included_keys, lambda rows: read_at(verdicts, rows)
        )
    return Census(verdicts, entries, tally, age_unknown, included_keys, references)


@dataclass(frozen=True, slots=True)
class BatchCensus:
    """The census map's output for one batch of items (rows counted from the batch's start):
    what is final (verdict before settling, entry, key) and what global reductions settle
    (duplicate candidates, eligible reposts, references of eligible items)."""

    reasons: npt.NDArray[np.int8]
    entries: npt.NDArray[np.int64]
    keys: U64
    tally: npt.NDArray[np.int64]
    age_unknown: int
    candidates: npt.NDArray[np.void]  # ``dedup.CANDIDATE``
    references: npt.NDArray[np.void]  # ``REFERENCE``
    repost_rows: npt.NDArray[np.int64]
    repost_originals: U64


def census_of_batch(
    batch: pa.RecordBatch, index: StateIndex, policy: Policy, on: date
) -> BatchCensus:
    """Verdicts of one batch (``CENSUS_COLUMNS``) and what settling needs of it: the map of
    the census, which needs nothing beyond the batch and its authors' ledger state."""
    items = pa.table(
        {
            "author_id": batch.column("author_id"),
            "kind": batch.column("kind"),
            "visibility": batch.column("visibility"),
            "deleted": pc.is_valid(batch.column("deleted_at")),
        }
    )
    frame = index.frame(items)
    reason = verdicts(frame, policy, index.purpose, recipient=index.recipient, on=on)
    keys = content_keys(batch.column("content_id"))
    entries = pc.fill_null(frame["consent_seq"], NO_ENTRY).to_numpy().astype(np.int64, copy=False)
    eligible = reason == Reason.ELIGIBLE
    age_unknown = int(np.count_nonzero(eligible & is_null(frame["birth_date"])))
    is_repost = bool_mask(pc.equal(batch.column("kind"), ContentKind.REPOST.value))
    # Only an eligible repost can change verdict (it takes its original's): keep those.
    reposts = np.nonzero(eligible & is_repost)[0]
    originals = (
        content_keys(batch.column("repost_of").take(pa.array(reposts)))
        if len(reposts)
        else np.empty(0, np.uint64)
    )
    with_text = np.nonzero(eligible & ~is_repost)[0]
    candidates = np.empty(len(with_text), dtype=CANDIDATE)
    if len(with_text):
        rows = pa.array(with_text)
        texts = normalised_text(batch.column("text").take(rows))
        hashes = _text_hashes(texts).view("<u8").reshape(-1, 2)
        candidates["h0"] = hashes[:, 0]
        candidates["h1"] = hashes[:, 1]
        candidates["created"] = (
            batch.column("created_at").take(rows).cast(pa.int64()).to_numpy(zero_copy_only=False)
        )
        candidates["key"] = keys[with_text]
        candidates["row"] = with_text
    return BatchCensus(
        reasons=reason.astype(np.int8, copy=False),
        entries=entries,
        keys=keys,
        tally=np.bincount(reason, minlength=len(Reason)).astype(np.int64),
        age_unknown=age_unknown,
        candidates=candidates,
        references=_references(batch, eligible),
        repost_rows=reposts.astype(np.int64),
        repost_originals=originals,
    )


def _scan(
    batches: Iterable[pa.RecordBatch],
    index: StateIndex,
    policy: Policy,
    on: date,
    progress: Callable[[int], None] | None,
    spill: _Spill,
    entries: SpilledInts,
    scanned: SpilledInts,
) -> tuple[npt.NDArray[np.int64], int, npt.NDArray[np.int64], U64]:
    """Verdicts batch by batch, to disk; returns the items per reason so far, the eligible
    items of unknown age, and the eligible reposts (rows and their originals' keys)."""
    tally = np.zeros(len(Reason), dtype=np.int64)
    repost_rows: list[npt.NDArray[np.int64]] = []
    repost_originals: list[U64] = []
    age_unknown = 0
    offset = 0
    for batch in batches:
        part = census_of_batch(batch, index, policy, on)
        spill.add_keys(part.keys)
        scanned.append(part.reasons)
        entries.append(part.entries)
        tally += part.tally
        age_unknown += part.age_unknown
        part.candidates["row"] += offset
        spill.add_candidates(part.candidates)
        part.references["code"] += offset * len(REFERENCE_COLUMNS)
        spill.add_references(part.references)
        repost_rows.append(part.repost_rows + offset)
        repost_originals.append(part.repost_originals)
        offset += batch.num_rows
        if progress:
            progress(batch.num_rows)
    return tally, age_unknown, concat(repost_rows, np.int64), concat(repost_originals, np.uint64)


def _references(batch: pa.RecordBatch, eligible: npt.NDArray[np.bool_]) -> npt.NDArray[np.void]:
    """What each eligible item points to (only an included item's references are asked about,
    and an included item was eligible when scanned)."""
    found: list[npt.NDArray[np.void]] = []
    for column, name in enumerate(REFERENCE_COLUMNS):
        ids = batch.column(name)
        if ids.null_count == len(ids):
            continue
        rows = np.nonzero(eligible & ~is_null(ids))[0]
        if len(rows) == 0:
            continue
        records = np.empty(len(rows), dtype=REFERENCE)
        records["code"] = rows * len(REFERENCE_COLUMNS) + column
        records["key"] = content_keys(ids.take(pa.array(rows)))
        found.append(records)
    return np.concatenate(found) if found else np.empty(0, dtype=REFERENCE)


def included_references(
    chunks: Iterable[npt.NDArray[np.void]],
    included_keys: U64,
    reasons_at: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.int8]],
) -> npt.NDArray[np.int64]:
    """The references (``REFERENCE`` codes, ascending) from an included item to an included
    item: pass 2 then needs neither the included keys nor a lookup per reference."""
    found: list[npt.NDArray[np.int64]] = []
    for chunk in chunks:
        found.append(chunk["code"][contains(included_keys, chunk["key"])].astype(np.int64))
    codes: npt.NDArray[np.int64] = concat(found, np.int64)
    codes.sort()
    rows = codes // len(REFERENCE_COLUMNS)
    candidates = np.unique(rows)
    kept = candidates[reasons_at(candidates) == Reason.ELIGIBLE]
    out: npt.NDArray[np.int64] = codes[contains(kept, rows)]
    return out


@dataclass
class Patches:
    """What settling changes in the scanned verdicts, as rows (ascending) rather than an array
    of every item: eligible items that are duplicates, and eligible reposts with the verdict
    they take from their originals."""

    duplicates: npt.NDArray[np.int64]
    repost_rows: npt.NDArray[np.int64]
    reposts: npt.NDArray[np.int8]  # the verdict each of ``repost_rows`` takes

    def retally(self, tally: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """``tally`` of the scanned verdicts, as it is once patched (every patched item was
        eligible when scanned)."""
        out = tally.copy()
        out[Reason.ELIGIBLE] -= len(self.duplicates) + len(self.repost_rows)
        out[Reason.DUPLICATE] += len(self.duplicates)
        out += np.bincount(self.reposts, minlength=len(Reason))
        return out

    def apply(self, start: int, reasons: npt.NDArray[np.int8]) -> None:
        """Patch the verdicts of items ``start`` to ``start + len(reasons)``, in place."""
        end = start + len(reasons)
        lo, hi = np.searchsorted(self.duplicates, [start, end])
        reasons[self.duplicates[lo:hi] - start] = Reason.DUPLICATE
        lo, hi = np.searchsorted(self.repost_rows, [start, end])
        reasons[self.repost_rows[lo:hi] - start] = self.reposts[lo:hi]


def read_at(column: SpilledInts, rows: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """``column``'s values at ``rows`` (ascending), reading only the pieces that hold some."""
    out = np.empty(len(rows), dtype=column.dtype)
    done = 0
    while done < len(rows):
        start = int(rows[done])
        end = int(np.searchsorted(rows, start + READ_CHUNK))
        piece = column.between(start, start + READ_CHUNK)
        out[done:end] = piece[rows[done:end] - start]
        done = end
    return out


def settle(
    scanned: SpilledInts,
    patches: Patches,
    included: int,
    key_chunks: Iterable[tuple[int, U64]],
    out: SpilledInts,
) -> U64:
    """Write the settled verdicts to ``out`` (scanned verdicts, patched), a piece at a time,
    and return the content keys of the included items, ascending."""
    # Filled in place and sorted in place: one array of the final size, not parts, their
    # concatenation and a sorted copy (three times 8 bytes per included item at once).
    keys_in = np.empty(included, dtype=np.uint64)
    end = 0
    for offset, keys in key_chunks:
        reasons = scanned.between(offset, offset + len(keys))
        patches.apply(offset, reasons)
        out.append(reasons)
        kept = keys[reasons == Reason.ELIGIBLE]
        keys_in[end : end + len(kept)] = kept
        end += len(kept)
    out.finish()
    if end != len(keys_in) or len(out) != len(scanned):
        raise RuntimeError(
            f"{end} keys spilled for {len(keys_in)} included items, "
            f"{len(out)} verdicts settled for {len(scanned)} scanned"
        )
    keys_in.sort()
    return keys_in
