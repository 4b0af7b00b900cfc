"""The ledger state of a build, partitioned by account hash, so that a worker reads only the
state of the accounts it needs (a bucket's authors, the interacting accounts), in bounded chunks:
its memory follows what it is given, not the number of accounts on the platform.

Written once per build into the work folder (``.OUT.partial/steps/state``) as Arrow IPC files,
one per partition and table, sealed by a marker; a resumed build reads it again. IPC rather
than Parquet: a task maps the file and filters it slice by slice, with nothing to decode (reading
16 Parquet partitions per bucket cost more than the bucket's census).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.content.buckets import hash_ids

#: Partitions of the state, by the top bits of the account key.
STATE_PARTITIONS: Final = 16
_SHIFT: Final = np.uint64(64 - 4)  # log2(STATE_PARTITIONS)
#: Rows of a state file read at a time.
READ_ROWS: Final = 65_536
TABLES: Final = ("accounts", "consent")
MARKER: Final = "state.done"


def _partitions(ids: Any) -> np.ndarray[Any, np.dtype[np.int64]]:
    out: np.ndarray[Any, np.dtype[np.int64]] = (hash_ids(ids) >> _SHIFT).astype(np.int64)
    return out


def written(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def write_state(folder: Path, accounts: pa.Table, consent: pa.Table) -> None:
    """Write ``accounts`` (``account_states``) and ``consent`` (``consent_state``) by partition."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in zip(TABLES, (accounts, consent), strict=True):
        ids = table["account_id"].combine_chunks() if table.num_rows else pa.array([], pa.string())
        part = _partitions(ids)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(STATE_PARTITIONS + 1))
        for p in range(STATE_PARTITIONS):
            rows = pa.array(order[bounds[p] : bounds[p + 1]], pa.int64())
            target = folder / f"{name}-{p:02d}.arrow"
            tmp = target.with_name(target.name + ".tmp")
            part_table = table.take(rows)
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
                w.write_table(part_table, max_chunksize=READ_ROWS)
            os.replace(tmp, target)
    (folder / MARKER).write_text(json.dumps({"partitions": STATE_PARTITIONS}), "utf-8")


def read_state(folder: Path, ids: Any) -> tuple[pa.Table, pa.Table]:
    """(accounts, consent) of the accounts ``ids`` only: only the partitions that hold some are
    opened, and each is read ``READ_ROWS`` at a time and filtered."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    wanted = pc.unique(ids.drop_null()) if len(ids) else pa.array([], pa.string())
    parts = set(np.unique(_partitions(wanted)).tolist()) if len(wanted) else set()
    out: list[pa.Table] = []
    for name in TABLES:
        pieces: list[pa.Table] = []
        schema: pa.Schema | None = None
        for p in range(STATE_PARTITIONS):
            path = folder / f"{name}-{p:02d}.arrow"
            with pa.memory_map(str(path)) as mapped:
                reader = pa.ipc.open_file(mapped)
                schema = reader.schema
                if p not in parts:
                    continue
                for i in range(reader.num_record_batches):
                    batch = reader.get_batch(i)
                    keep = pc.is_in(batch.column("account_id"), value_set=wanted)
                    chosen = batch.filter(keep)
                    if chosen.num_rows:
                        # A copy: the mapped file is closed when the block ends.
                        pieces.append(pa.Table.from_batches([chosen]).combine_chunks())
        assert schema is not None
        out.append(pa.concat_tables(pieces).cast(schema) if pieces else schema.empty_table())
    return out[0], out[1]
