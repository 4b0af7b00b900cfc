"""Every account's handle, partitioned by the hash of the handle, so that a records task finds
the accounts its texts mention without holding every handle of the platform.

A mention (``@alice``) becomes ``@`` + the pseudonym of the account with that handle, so a
records task must look up any handle. An index of every handle in each worker (``scrub.
MentionResolver``) grew with the platform: 2.4 GB per worker at 10,000,000 accounts. Here the
build's process writes the handles once into the work folder (``.OUT.partial/steps/handles``),
as many Arrow IPC streams as the ledger state has partitions (``state_parts.partitions_for``:
they grow with the ledger), by the top bits of the handle's hash, each sorted by that hash;
a task maps the partitions its handles fall in and binary-searches the mapped keys, so that it
reads the pages it needs and keeps only the ids it found.

The export reads the accounts a bucket of the content store at a time, appending each part's
rows to the raw stream of their partition, then folds one partition at a time: its memory is a
bucket and a partition, not every account. The same pairs win as in ``MentionResolver``: the
first given (in ``ContentSource.account_parts`` order) of those sharing a handle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import hash_ids
from consentry.content.hash_index import HashIndex
from consentry.content.store import first_per_key
from consentry.masks import bool_mask
from consentry.scrub.pseudonym import Pseudonymiser
from consentry.scrub.resolver import normalised_handles
from consentry.snapshot.source import ContentSource
from consentry.snapshot.state_parts import STATE_PARTITIONS, seal, sealed
from consentry.snapshot.steps import save

MARKER: Final = "handles.done"
LAYOUT: Final = "ipc-stream"
SCHEMA: Final = pa.schema([("key", pa.uint64()), ("handle", pa.string()), ("id", pa.string())])


def _file(folder: Path, p: int) -> Path:
    return folder / f"handles-{p:05d}.arrows"


def _partition_of(keys: npt.NDArray[np.uint64], count: int) -> npt.NDArray[np.int64]:
    """The partition of each key among ``count`` (a power of two): its top bits."""
    if count == 1:  # (a shift by 64 bits is not defined)
        return np.zeros(len(keys), dtype=np.int64)
    return (keys >> np.uint64(64 - (count.bit_length() - 1))).astype(np.int64)


def written(folder: Path) -> bool:
    return sealed(folder / MARKER, LAYOUT) is not None


def export_handles(folder: Path, source: ContentSource, partitions: int = STATE_PARTITIONS) -> int:
    """Write the handles of ``source``'s accounts in ``partitions`` (a power of two); returns
    how many were kept."""
    if partitions < 1 or partitions & (partitions - 1):
        raise ValueError(f"partitions must be a power of two, not {partitions}")
    folder.mkdir(parents=True, exist_ok=True)
    raw = [folder / f"raw-{p:05d}.arrows" for p in range(partitions)]
    writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
    try:
        for part in source.account_parts():
            handles, ids = part.column("handle"), part.column("id")
            valid = pc.and_(pc.is_valid(handles), pc.is_valid(ids))
            handles = normalised_handles(handles.filter(valid))
            ids = ids.filter(valid)
            if isinstance(handles, pa.ChunkedArray):
                handles, ids = handles.combine_chunks(), ids.combine_chunks()
            if not len(handles):
                continue
            keys = hash_ids(handles)
            table = pa.table({"key": keys, "handle": handles, "id": ids.cast(pa.string())})
            where = _partition_of(keys, partitions)
            order = np.argsort(where, kind="stable")  # stable: the pairs' order within a part
            bounds = np.searchsorted(where[order], np.arange(partitions + 1))
            for p in np.flatnonzero(np.diff(bounds)).tolist():
                writer = writers.get(p)
                if writer is None:
                    writer = writers[p] = pa.ipc.new_stream(str(raw[p]), SCHEMA)
                writer.write_table(table.take(pa.array(order[bounds[p] : bounds[p + 1]])))
    finally:
        for writer in writers.values():
            writer.close()
    kept = 0
    for p in range(partitions):
        pairs = pa.ipc.open_stream(str(raw[p])).read_all() if p in writers else SCHEMA.empty_table()
        if pairs.num_rows:
            pairs = pairs.take(pa.array(first_per_key(pairs.column("handle"))))
            order = np.argsort(pairs.column("key").to_numpy(), kind="stable")
            pairs = pairs.take(pa.array(order)).combine_chunks()
        kept += pairs.num_rows
        save(_file(folder, p), pairs)
        raw[p].unlink(missing_ok=True)
        del pairs
    seal(folder / MARKER, LAYOUT, handles=kept, partitions=partitions)
    return kept


class PartitionedMentions:
    """Mentions resolved against the handles ``export_handles`` wrote (picklable: a folder
    and the recipient's pseudonymiser)."""

    __slots__ = ("_count", "folder", "pseudonymiser")

    def __init__(self, folder: Path, pseudonymiser: Pseudonymiser) -> None:
        self.folder = folder
        self.pseudonymiser = pseudonymiser
        self._count: int | None = None

    def __getstate__(self) -> tuple[Path, Pseudonymiser]:
        return self.folder, self.pseudonymiser

    def __setstate__(self, state: tuple[Path, Pseudonymiser]) -> None:
        self.folder, self.pseudonymiser = state
        self._count = None

    def _partitions(self) -> int:
        if self._count is None:
            facts = sealed(self.folder / MARKER, LAYOUT)
            if facts is None:
                raise FileNotFoundError(f"{self.folder}: no handles written in this layout")
            self._count = int(facts["partitions"])
        return self._count

    def account_ids(self, handles: pa.Array) -> pa.Array:
        """The account id of each handle (without ``@``), null where unknown."""
        if isinstance(handles, pa.ChunkedArray):
            handles = handles.combine_chunks()
        wanted = pc.utf8_lower(handles)
        n = len(wanted)
        valid = bool_mask(pc.is_valid(wanted))
        keys = hash_ids(wanted)
        where = _partition_of(keys, self._partitions())
        rows_found: list[npt.NDArray[np.int64]] = []
        ids_found: list[pa.Array] = []
        for p in np.unique(where[valid]).tolist():
            rows = np.flatnonzero(valid & (where == p))
            ids, hit = self._find(p, keys[rows], wanted.take(pa.array(rows)))
            if len(hit):
                rows_found.append(rows[hit])
                ids_found.append(ids)
        if not rows_found:
            return pa.nulls(n, pa.string())
        found = pa.concat_arrays(ids_found)
        index = np.full(n, -1, dtype=np.int64)
        index[np.concatenate(rows_found)] = np.arange(len(found))
        result: pa.Array = found.take(pa.array(index, pa.int64(), mask=index < 0))
        return result

    def _find(
        self, p: int, keys: npt.NDArray[np.uint64], wanted: pa.Array
    ) -> tuple[pa.Array, npt.NDArray[np.int64]]:
        """The ids of the handles of partition ``p`` among ``wanted`` (their ``keys``), and
        which of ``wanted`` they are."""
        with pa.memory_map(str(_file(self.folder, p))) as mapped:
            table = pa.ipc.open_stream(mapped).read_all()
            if table.num_rows == 0:
                return pa.array([], pa.string()), np.empty(0, dtype=np.int64)
            table = table.combine_chunks()
            column = table.column("key").chunk(0)
            sorted_keys = np.frombuffer(column.buffers()[1], dtype=np.uint64)[
                column.offset : column.offset + len(column)
            ]
            index = HashIndex.presorted(table.column("handle").chunk(0), sorted_keys)
            at = index.find(wanted, keys)
            hit = np.flatnonzero(at >= 0).astype(np.int64)
            # ``take`` copies: nothing kept points into the mapped file once it is closed.
            ids = table.column("id").take(pa.array(at[hit])).combine_chunks()
        return ids, hit

    def resolve(self, handles: pa.Array) -> pa.Array:
        """The account pseudonym of each handle (without ``@``), null where unknown."""
        ids = self.account_ids(handles)
        if ids.null_count == len(ids):
            return pa.nulls(len(ids), pa.string())
        result: pa.Array = self.pseudonymiser.accounts(ids)
        return result
