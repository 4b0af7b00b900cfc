"""The ledger state of a build, partitioned by account hash, so that a worker reads only the
state of the accounts it needs (a bucket's authors, the interacting accounts), in bounded chunks:
its memory follows what it is given, not the number of accounts on the platform.

Written once per build into the work folder (``.OUT.partial/steps/state``) as Arrow IPC streams,
one per partition and table, sealed by a marker; a resumed build reads it again. IPC rather
than Parquet: a task maps the file and filters it slice by slice, with nothing to decode (reading
16 Parquet partitions per bucket cost more than the bucket's census). Streams rather than IPC
files: a task reads every batch in order, and opening a file reads its footer through Arrow's
I/O threads, a wait per partition and task (twice the cost of the read, on a busy machine).

``export_state`` writes it straight from the ledger without ever holding every account's state:
the ledger is read ``EXPORT_ROWS`` entries at a time, each window's rows appended to the raw
file of their partition, then each partition folded on its own (a fold is per account, so the
folds of the partitions are the fold of the whole). The number of partitions grows with the
ledger (``partitions_for``): a partition, hence the parent's fold and a worker's mapped read,
stays near ``PARTITION_ENTRIES`` entries however many accounts there are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import hash_ids
from consentry.ledger.state import fold_account_states, fold_consent_state
from consentry.masks import bool_mask

if TYPE_CHECKING:
    from consentry.ledger import LedgerStore, Resolved

#: Partitions of the state at least, by the top bits of the account key.
STATE_PARTITIONS: Final = 16
#: Ledger entries per partition, at most on average (see ``partitions_for``).
PARTITION_ENTRIES: Final = 65_536
#: Rows of a state file read at a time.
READ_ROWS: Final = 65_536
#: Ledger entries (``seq`` values) per read of ``export_state``: no read returns more rows.
EXPORT_ROWS: Final = 65_536
TABLES: Final = ("accounts", "consent")
MARKER: Final = "state.done"
#: What the marker says of the files: IPC streams (an earlier layout wrote IPC files).
LAYOUT: Final = "ipc-stream"
#: The column of each row's ``hash_ids(account_id)`` in a partition's file (not in what is read).
KEY: Final = "account_key"


def partitions_for(entries: int, per_partition: int = PARTITION_ENTRIES) -> int:
    """Partitions for a ledger of ``entries``: a power of two (a partition is the top bits of
    the account hash), at least ``STATE_PARTITIONS``."""
    count = STATE_PARTITIONS
    while count * per_partition < entries:
        count *= 2
    return count


def _shift(count: int) -> np.uint64:
    """A key's partition among ``count`` (a power of two) is its top bits: the key >> this."""
    return np.uint64(64 - (count.bit_length() - 1))


def _partitions(ids: Any, count: int = STATE_PARTITIONS) -> np.ndarray[Any, np.dtype[np.int64]]:
    out: np.ndarray[Any, np.dtype[np.int64]] = (hash_ids(ids) >> _shift(count)).astype(np.int64)
    return out


def sealed(marker: Path, layout: str) -> dict[str, Any] | None:
    """What ``seal`` wrote in ``marker``, if it names ``layout``: files an older Consentry
    wrote in another layout (a build resumed from its work) are not read, but written again."""
    try:
        value = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) and value.get("layout") == layout else None


def seal(marker: Path, layout: str, **facts: int) -> None:
    marker.write_text(json.dumps({**facts, "layout": layout}), "utf-8")


def sealed_partitions(folder: Path) -> int:
    """The number of partitions of the state sealed in ``folder``; ``FileNotFoundError`` if
    there is none in this layout."""
    facts = sealed(folder / MARKER, LAYOUT)
    if facts is None:
        raise FileNotFoundError(f"{folder}: no ledger state written in this layout")
    return int(facts["partitions"])


def written(folder: Path) -> bool:
    return sealed(folder / MARKER, LAYOUT) is not None


def _file(folder: Path, name: str, p: int) -> Path:
    return folder / f"{name}-{p:02d}.arrows"


def _write_part(target: Path, table: pa.Table) -> None:
    """One partition's file, sorted by account hash, the hash (``KEY``) beside each row:
    ``read_state`` then finds a task's accounts by binary search, where hashing every account
    id of the partition again in every task made the census of B buckets cost B × accounts.
    Stable: an account's rows keep their order."""
    ids = table["account_id"]
    keys = hash_ids(ids) if table.num_rows else np.empty(0, dtype=np.uint64)
    order = np.argsort(keys, kind="stable")
    table = table.take(pa.array(order)).append_column(KEY, pa.array(keys[order], pa.uint64()))
    tmp = target.with_name(target.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table, max_chunksize=READ_ROWS)
    os.replace(tmp, target)


def seal_state(folder: Path, count: int) -> None:
    """Every partition written: the state is ready to be read."""
    seal(folder / MARKER, LAYOUT, partitions=count)


def write_state(
    folder: Path, accounts: pa.Table, consent: pa.Table, partitions: int = STATE_PARTITIONS
) -> None:
    """Write ``accounts`` (``account_states``) and ``consent`` (``consent_state``) by partition
    (state already folded and held whole; ``export_state`` goes without)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in zip(TABLES, (accounts, consent), strict=True):
        ids = table["account_id"].combine_chunks() if table.num_rows else pa.array([], pa.string())
        part = _partitions(ids, partitions)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(partitions + 1))
        for p in range(partitions):
            rows = pa.array(order[bounds[p] : bounds[p + 1]], pa.int64())
            _write_part(_file(folder, name, p), table.take(rows))
    seal_state(folder, partitions)


def export_state(
    folder: Path,
    ledger: LedgerStore,
    resolved: Resolved,
    purposes: Sequence[str],
    recipient: str | None,
    *,
    rows: int = EXPORT_ROWS,
    per_partition: int = PARTITION_ENTRIES,
) -> int:
    """Write the state ``ledger.account_states(resolved)`` and ``ledger.consent_state(resolved,
    purposes=…, recipient=…)`` would give, by partition, reading at most ``rows`` entries at a
    time and folding one partition at a time. Returns the number of partitions.

    ``export_entries`` then ``fold_partition`` of each partition then ``seal_state``: a build
    folds the partitions as tasks, on its workers."""
    count = export_entries(
        folder, ledger, resolved, purposes, rows=rows, per_partition=per_partition
    )
    for p in range(count):
        fold_partition(folder, p, recipient)
    seal_state(folder, count)
    return count


def export_entries(
    folder: Path,
    ledger: LedgerStore,
    resolved: Resolved,
    purposes: Sequence[str],
    *,
    rows: int = EXPORT_ROWS,
    per_partition: int = PARTITION_ENTRIES,
) -> int:
    """The ledger's entries up to ``resolved``, ``rows`` at a time, appended to the raw file of
    their partition (what ``fold_partition`` folds). Returns the number of partitions."""
    folder.mkdir(parents=True, exist_ok=True)
    upto, bound = resolved.position.seq, resolved.at_bound
    count = partitions_for(upto, per_partition)
    for name in TABLES:  # a killed export's: each partition's file is written whole or not at all
        for p in range(count):
            _raw(folder, name, p).unlink(missing_ok=True)
    writers: dict[tuple[str, int], pa.ipc.RecordBatchStreamWriter] = {}
    schemas: dict[str, pa.Schema] = {}
    try:
        for after in range(0, upto, rows):
            end = min(after + rows, upto)
            windows = (
                ledger.account_rows(after, end, bound),
                ledger.consent_rows(after, end, purposes, bound),
            )
            for name, table in zip(TABLES, windows, strict=True):
                if not table.num_rows:
                    continue
                table = table.combine_chunks()
                # SQLite types a column by the values it returns: one schema for every window.
                schema = schemas.setdefault(name, table.schema)
                table = table.cast(schema)
                part = _partitions(table["account_id"], count)
                order = np.argsort(part, kind="stable")  # stable: seq order within a partition
                bounds = np.searchsorted(part[order], np.arange(count + 1))
                for p in np.flatnonzero(np.diff(bounds)).tolist():
                    writer = writers.get((name, p))
                    if writer is None:
                        writer = pa.ipc.new_stream(str(_raw(folder, name, p)), schema)
                        writers[name, p] = writer
                    writer.write_table(table.take(pa.array(order[bounds[p] : bounds[p + 1]])))
    finally:
        for writer in writers.values():
            writer.close()
    return count


def fold_partition(folder: Path, p: int, recipient: str | None) -> None:
    """Partition ``p``'s state, folded from the entries ``export_entries`` wrote (a fold is per
    account: the folds of the partitions are the fold of the whole)."""
    for name in TABLES:
        path = _raw(folder, name, p)
        entries = pa.ipc.open_stream(str(path)).read_all() if path.is_file() else None
        state = (
            fold_account_states(entries)
            if name == "accounts"
            else fold_consent_state(entries, recipient)
        )
        _write_part(_file(folder, name, p), state)
        del entries, state
        path.unlink(missing_ok=True)


def _raw(folder: Path, name: str, p: int) -> Path:
    return folder / f"raw-{name}-{p:02d}.arrows"


def read_state(folder: Path, ids: Any, rows: int | None = None) -> tuple[pa.Table, pa.Table]:
    """(accounts, consent) of the accounts ``ids`` only: only the partitions that hold some are
    opened, and each is read ``READ_ROWS`` (or ``rows``) at a time; in each read the accounts'
    rows are found by binary search of their hashes, then checked by id."""
    state = read_keyed_state(folder, ids, rows)
    return state.accounts, state.consent


@dataclass(frozen=True, slots=True)
class KeyedState:
    """What ``read_keyed_state`` read: rows in ascending order of their account's key, and
    the keys (``hash_ids`` of each row's ``account_id``), which ``StateIndex`` then need not
    compute nor sort again."""

    accounts: pa.Table
    consent: pa.Table
    account_keys: npt.NDArray[np.uint64]
    consent_keys: npt.NDArray[np.uint64]


def read_keyed_state(folder: Path, ids: Any, rows: int | None = None) -> KeyedState:
    """``read_state``, with each row's key."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    count = sealed_partitions(folder)
    wanted = pc.unique(ids.drop_null()) if len(ids) else pa.array([], pa.string())
    hashes = hash_ids(wanted) if len(wanted) else np.empty(0, dtype=np.uint64)
    order = np.argsort(hashes, kind="stable")
    keys, wanted = hashes[order], wanted.take(pa.array(order, pa.int64()))
    # Two of the ids asked may share a hash: then a row's id is checked against all of them.
    shared = bool(len(keys) > 1 and np.any(keys[1:] == keys[:-1]))
    search = np.unique(keys) if shared else keys
    # The keys of partition p are a run of the sorted keys (a partition is the top bits).
    bounds = np.searchsorted(search >> _shift(count), np.arange(count + 1, dtype=np.uint64))
    out: list[tuple[pa.Table, npt.NDArray[np.uint64]]] = []
    for name in TABLES:
        pieces: list[pa.RecordBatch] = []
        found: list[npt.NDArray[np.uint64]] = []
        schema: pa.Schema | None = None
        for p in range(count):
            with pa.memory_map(str(_file(folder, name, p))) as mapped:
                reader = pa.ipc.open_stream(mapped)
                schema = reader.schema
                lo, hi = int(bounds[p]), int(bounds[p + 1])
                if lo == hi:
                    continue
                for batch in _slices(reader, rows):
                    batch_keys = batch.column(KEY).to_numpy()
                    near, which = _rows_of(batch_keys, search[lo:hi])
                    if not len(near):
                        continue
                    # The hash narrows; the id decides. Only then are the rows taken, every
                    # column at once (into new buffers: the mapped file is closed after).
                    near_ids = batch.column("account_id").take(pa.array(near))
                    same = (
                        pc.is_in(near_ids, value_set=wanted)
                        if shared
                        else pc.equal(near_ids, wanted.take(pa.array(which + lo)))
                    )
                    chosen = near[bool_mask(same)]
                    if len(chosen):
                        pieces.append(batch.take(pa.array(chosen)))
                        found.append(batch_keys[chosen])
        assert schema is not None
        schema = schema.remove(schema.get_field_index(KEY))
        table = (
            pa.Table.from_batches(pieces).drop_columns([KEY]).cast(schema).combine_chunks()
            if pieces
            else schema.empty_table()
        )
        out.append((table, np.concatenate(found) if found else np.empty(0, dtype=np.uint64)))
    (accounts, account_keys), (consent, consent_keys) = out
    return KeyedState(accounts, consent, account_keys, consent_keys)


def state_rows(folder: Path, at_most: int | None = None) -> int:
    """Rows of the sealed state in ``folder``, accounts' and consent's (read from the files'
    batch headers: nothing is decoded). With ``at_most``, the count stops once past it (the
    number returned is then more than ``at_most``, not the total): a large state has
    thousands of files, and whether it is small is all a worker asks."""
    count = sealed_partitions(folder)
    total = 0
    for name in TABLES:
        for p in range(count):
            with pa.memory_map(str(_file(folder, name, p))) as mapped:
                total += sum(int(batch.num_rows) for batch in pa.ipc.open_stream(mapped))
            if at_most is not None and total > at_most:
                return total
    return total


def read_whole_state(folder: Path) -> KeyedState:
    """Every account's state (``read_keyed_state`` of every account), partition after partition:
    a partition is the top bits of the key and each is sorted by key, so the rows come in
    ascending key order."""
    count = sealed_partitions(folder)
    out: list[tuple[pa.Table, npt.NDArray[np.uint64]]] = []
    for name in TABLES:
        # Read into memory (not mapped): the files go when the build discards its steps.
        parts = [
            pa.ipc.open_stream(pa.OSFile(str(_file(folder, name, p)))).read_all()
            for p in range(count)
        ]
        table = pa.concat_tables([t.cast(parts[-1].schema) for t in parts]).combine_chunks()
        keys = (
            np.asarray(table[KEY].to_numpy(), dtype=np.uint64)
            if table.num_rows
            else np.empty(0, dtype=np.uint64)
        )
        out.append((table.drop_columns([KEY]), keys))
    (accounts, account_keys), (consent, consent_keys) = out
    return KeyedState(accounts, consent, account_keys, consent_keys)


def _rows_of(sorted_keys: np.ndarray[Any, Any], wanted: np.ndarray[Any, Any]) -> tuple[Any, Any]:
    """The rows of an ascending key column whose key is one of ``wanted`` (ascending, each
    once; a key may have several rows: an account's consent per purpose), in row order, and
    for each the position in ``wanted`` of its key."""
    lo = np.searchsorted(sorted_keys, wanted, side="left")
    hi = np.searchsorted(sorted_keys, wanted, side="right")
    hit = np.flatnonzero(hi > lo)
    lo, hi = lo[hit], hi[hit]
    if not len(lo):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    # Each range lo..hi spelled out: a running count restarted at every range's start.
    lengths = hi - lo
    starts = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
    return starts + np.arange(int(lengths.sum())), np.repeat(hit, lengths)


def _slices(reader: pa.ipc.RecordBatchStreamReader, rows: int | None) -> Any:
    for batch in reader:
        if rows is None or batch.num_rows <= rows:
            yield batch
            continue
        for start in range(0, batch.num_rows, rows):
            yield batch.slice(start, rows)
