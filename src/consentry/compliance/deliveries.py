"""Deliveries: every snapshot built from the workspace, and exactly which records it holds.

A snapshot's records carry only pseudonyms. To tell a recipient later which of *its* records to
delete, Consentry keeps, per snapshot, a private *delivery map*: one row per delivered record with
the raw ids (``content_id``, the owning ``account_id``) it was made from. Pseudonyms are
recomputed from those ids with the recipient's key when an event is emitted, so no key and no
pseudonym table is stored anywhere: keys stay derived from the workspace secret.

The map is Parquet in ``<workspace>/deliveries`` (millions of rows per snapshot do not belong in
the database); its SHA-256 is kept in the ``deliveries`` row, so a map that changed is refused.
It is written while the snapshot is built (``Deliveries.build``): the build tells it of every
item and interaction it includes, so the content is not read a second time for it.
Per account, the number of records each delivery holds goes to the database
(``delivered_accounts``), which answers "where is my data" with one index probe per snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from consentry.compliance import db
from consentry.compliance.clock import now
from consentry.compliance.recipients import Recipients
from consentry.content.buckets import U64, hash_ids
from consentry.errors import ConsentryError, WorkspaceError
from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us, to_us
from consentry.snapshot.build import Builder, BuildResult, BuildSpec
from consentry.snapshot.census import contains, joined
from consentry.snapshot.manifest import MANIFEST_NAME, Manifest
from consentry.snapshot.verify import verify_files
from consentry.snapshot.writer import file_sha256

DATA: Final = "data"
INTERACTIONS: Final = "interactions"
MAP_SCHEMA: Final = pa.schema(
    [
        ("tbl", pa.string()),  # "data" (content records) or "interactions"
        ("account_id", pa.string()),  # whose record: the author, or the interacting account
        ("content_id", pa.string()),
        ("kind", pa.string()),
        ("origin_id", pa.string()),  # a repost's original (its record follows the original's)
        ("consent_entry", pa.int64()),
    ]
)
#: The map's columns of repeated values: content ids are distinct, and a dictionary Parquet
#: builds for them, then drops as too large, cost a third of the map's writing.
_MAP_DICTIONARY: Final = [f.name for f in MAP_SCHEMA if f.name != "content_id"]
#: Rows per row group of the map. The rows of a group wait in memory during the build (~100
#: bytes each): 16k rows keep that small beside the build's own working set.
_ROW_GROUP: Final = 16_384
#: Maps being written by a build in progress: ``.building-<pid>-<n>.parquet``.
_BUILDING: Final = ".building-"


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: int
    snapshot_id: str
    purpose: str
    recipient: str | None
    path: str
    created: datetime
    ledger_seq: int
    ledger_head: str
    records: int
    accounts: int
    map_path: str
    map_sha256: str
    #: When its folder was seen published; None while it is recorded but not yet renamed into
    #: place (or the build was killed before the rename).
    published: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "purpose": self.purpose,
            "recipient": self.recipient,
            "path": self.path,
            "created": self.created.isoformat(),
            "ledger": {"seq": self.ledger_seq, "head": self.ledger_head},
            "records": self.records,
            "accounts": self.accounts,
        }

    def check_map(self) -> None:
        """Raise unless the delivery map is the one recorded."""
        path = Path(self.map_path)
        try:
            digest = file_sha256(path)
        except FileNotFoundError:
            raise WorkspaceError(
                f"the delivery map of {self.snapshot_id} is missing ({path}): without it, "
                "compliance cannot tell which records this snapshot holds"
            ) from None
        if digest != self.map_sha256:
            raise WorkspaceError(
                f"the delivery map of {self.snapshot_id} ({path}) was changed after delivery"
            )

    def read_map(
        self, columns: list[str] | None = None, *, where: Any = None, check: bool = True
    ) -> pa.Table:
        """The delivery map (the rows matching ``where``, a ``pyarrow.dataset`` expression,
        filtered while reading), after checking it is the one recorded."""
        if check:
            self.check_map()
        return pq.read_table(self.map_path, columns=columns, filters=where)


_COLUMNS: Final = (
    "delivery_id, snapshot_id, purpose, recipient, path, created_us, ledger_seq, ledger_head,"
    " records, accounts, map_path, map_sha256, published_us"
)


def _delivery(row: tuple[Any, ...]) -> Delivery:
    return Delivery(
        delivery_id=int(row[0]),
        snapshot_id=str(row[1]),
        purpose=str(row[2]),
        recipient=row[3],
        path=str(row[4]),
        created=from_us(int(row[5])),
        ledger_seq=int(row[6]),
        ledger_head=str(row[7]),
        records=int(row[8]),
        accounts=int(row[9]),
        map_path=str(row[10]),
        map_sha256=str(row[11]),
        published=None if row[12] is None else from_us(int(row[12])),
    )


class Deliveries:
    """Deliveries are recorded *before* their snapshot is renamed into place and marked
    published after (``_Publication``). One recorded but not marked (its build was killed at
    the rename) counts as published once its folder holds its manifest (``unmarked``), and a
    rerun of the same build marks it. So no published snapshot is unknown here. The scanner
    notifies the holders of unmarked deliveries too: the id names the exact content, so if that
    snapshot is published, it is those records."""

    def __init__(self, ledger: LedgerStore, maps_dir: Path | None = None) -> None:
        self.ledger = ledger
        self.maps_dir = maps_dir

    def all(self, *, pending: bool = False) -> list[Delivery]:
        """Every published delivery (and, with ``pending``, those not published yet)."""
        rows = self.ledger.query(f"SELECT {_COLUMNS} FROM deliveries ORDER BY delivery_id")
        found = [_delivery(r) for r in rows]
        return found if pending else self._published(found)

    def for_recipient(self, name: str) -> list[Delivery]:
        rows = self.ledger.query(
            f"SELECT {_COLUMNS} FROM deliveries WHERE recipient = ? ORDER BY delivery_id", (name,)
        )
        return self._published([_delivery(r) for r in rows])

    def _published(self, found: list[Delivery]) -> list[Delivery]:
        published = self.unmarked()
        return [d for d in found if d.published is not None or d.delivery_id in published]

    def unmarked(self) -> set[int]:
        """Deliveries published but not marked so (their build was killed just after the
        rename)."""
        rows = self.ledger.query(
            "SELECT delivery_id, snapshot_id, path FROM deliveries WHERE published_us IS NULL"
        )
        return {int(r[0]) for r in rows if _holds(Path(str(r[2])), str(r[1]))}

    def get(self, snapshot_id: str) -> Delivery | None:
        rows = self.ledger.query(
            f"SELECT {_COLUMNS} FROM deliveries WHERE snapshot_id = ?", (snapshot_id,)
        )
        return _delivery(rows[0]) if rows else None

    def by_ids(self, ids: list[int]) -> dict[int, Delivery]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self.ledger.query(
            f"SELECT {_COLUMNS} FROM deliveries WHERE delivery_id IN ({marks})", ids
        )
        return {int(r[0]): _delivery(r) for r in rows}

    def _mark_published(self, snapshot_id: str) -> None:
        self.ledger.execute(
            "UPDATE deliveries SET published_us = ? WHERE snapshot_id = ? AND published_us IS NULL",
            (to_us(now()), snapshot_id),
        )

    def build(self, builder: Builder, spec: BuildSpec) -> tuple[BuildResult, Delivery]:
        """Build a snapshot and record it as delivered (to its recipient, or kept internally),
        its delivery map written as the build goes.

        Building the same snapshot again (same id) records nothing new; when OUT already holds
        it, recorded but not marked published and intact (a run killed at its publication), it
        is adopted as it is."""
        adopted = self._adopt(builder, spec)
        if adopted is not None:
            return adopted
        with self._pending_map() as pending:
            publication = _Publication(self, pending)
            result = builder.build(spec, sink=pending, hook=publication)
            assert publication.delivery is not None  # (recorded before the rename)
            found = self.get(result.manifest.snapshot_id)
            return result, found or publication.delivery

    def _adopt(self, builder: Builder, spec: BuildSpec) -> tuple[BuildResult, Delivery] | None:
        if spec.force or not (spec.out / MANIFEST_NAME).is_file():
            return None
        snapshot_id = builder.snapshot_id(spec)
        recorded = self.get(snapshot_id)
        if recorded is None or recorded.published is not None or not _holds(spec.out, snapshot_id):
            return None  # something else, or done: the build refuses to replace it
        report = verify_files(spec.out)
        if not report.ok:
            return None
        path = str(spec.out.resolve())
        if recorded.path != path:
            self.ledger.execute(
                "UPDATE deliveries SET path = ? WHERE delivery_id = ?",
                (path, recorded.delivery_id),
            )
        self._mark_published(snapshot_id)
        delivery = self.get(snapshot_id)
        assert delivery is not None
        shards = len(report.manifest.shards) + len(report.manifest.interactions)
        return BuildResult(spec.out, report.manifest, 0.0, shards), delivery

    @contextmanager
    def _pending_map(self) -> Iterator[MapWriter]:
        if self.maps_dir is None:
            raise ConsentryError("deliveries need a folder for their maps")
        self.maps_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.maps_dir.glob(f"{_BUILDING}*.parquet"):
            if not _running(stale.name.removeprefix(_BUILDING).split("-")[0]):
                stale.unlink(missing_ok=True)  # left by a build that was killed
        n = 0
        while (path := self.maps_dir / f"{_BUILDING}{os.getpid()}-{n}.parquet").exists():
            n += 1
        writer = MapWriter(path)
        try:
            yield writer
        finally:
            writer.discard()

    def _record(self, manifest: Manifest, out: Path, written: MapWriter) -> Delivery:
        """Record the delivery of ``manifest``'s snapshot, to be published at ``out``, not yet
        marked published, with its map (``written``, closed)."""
        existing = self.get(manifest.snapshot_id)
        if existing is not None:
            if existing.path != str(out.resolve()):
                self.ledger.execute(
                    "UPDATE deliveries SET path = ?, published_us = NULL WHERE delivery_id = ?",
                    (str(out.resolve()), existing.delivery_id),
                )
            return self.get(manifest.snapshot_id) or existing
        if manifest.recipient is not None:
            Recipients(self.ledger).get(manifest.recipient)
        assert self.maps_dir is not None  # (the map was written there)
        per_account = written.per_account()
        map_path = self.maps_dir / f"{manifest.snapshot_id}.parquet"
        written.path.replace(map_path)
        digest = file_sha256(map_path)
        created = now()
        records = int(pc.sum(per_account.column("records")).as_py() or 0)
        with self.ledger.transaction():
            db.lock(self.ledger, "deliveries")
            delivery_id = db.next_id(self.ledger, "deliveries", "delivery_id")
            self.ledger.insert_arrow(
                "delivered_accounts",
                per_account.append_column(
                    "delivery_id", pa.array(np.full(per_account.num_rows, delivery_id))
                ).select(["account_id", "delivery_id", "records"]),
            )
            self.ledger.execute(
                f"INSERT INTO deliveries ({_COLUMNS}, caught_up)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)",
                (
                    delivery_id,
                    manifest.snapshot_id,
                    manifest.purpose,
                    manifest.recipient,
                    str(out.resolve()),
                    to_us(created),
                    int(manifest.ledger["seq"]),
                    str(manifest.ledger["head"]),
                    records,
                    per_account.num_rows,
                    str(map_path.resolve()),
                    digest,
                ),
            )
        found = self.get(manifest.snapshot_id)
        assert found is not None
        return found


class _Publication:
    """The build's ``PublishHook``: the delivery is recorded before the rename, marked
    published after."""

    def __init__(self, deliveries: Deliveries, pending: MapWriter) -> None:
        self.deliveries = deliveries
        self.pending = pending
        self.delivery: Delivery | None = None

    def publishing(self, manifest: Manifest, out: Path) -> None:
        self.pending.close()
        self.delivery = self.deliveries._record(manifest, out, self.pending)

    def published(self, manifest: Manifest, out: Path) -> None:
        self.deliveries._mark_published(manifest.snapshot_id)


def _holds(folder: Path, snapshot_id: str) -> bool:
    """Whether ``folder`` holds the published snapshot ``snapshot_id`` (by its manifest)."""
    try:
        return Manifest.load(folder).snapshot_id == snapshot_id
    except (OSError, ValueError, TypeError):
        return False


class MapWriter:
    """A delivery map written while its snapshot is built (the build's ``IncludedSink``): the
    build's small parts joined into row groups of at least ``_ROW_GROUP`` rows, and its
    records counted per account as each group is written (``per_account``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._size = 0
        # None once two ids shared a hash: the finished map is then counted exactly.
        self._tally: _AccountTally | None = _AccountTally()

    def content(self, rows: pa.RecordBatch, entries: npt.NDArray[np.int64]) -> None:
        self._add(_map_part(DATA, rows, "author_id", rows.column("repost_of"), entries))

    def interactions(self, rows: pa.RecordBatch, entries: npt.NDArray[np.int64]) -> None:
        origin = pa.nulls(rows.num_rows, pa.string())
        self._add(_map_part(INTERACTIONS, rows, "account_id", origin, entries))

    def _add(self, part: pa.RecordBatch) -> None:
        self._pending.append(part)
        self._size += part.num_rows
        if self._size >= _ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(
                self.path, MAP_SCHEMA, compression="zstd", use_dictionary=_MAP_DICTIONARY
            )
        if self._size:
            group = joined(self._pending)
            self._writer.write_batch(group)
            if self._tally is not None:
                try:
                    self._tally.add(group.column("account_id"))
                except _CollisionError:
                    self._tally = None
        self._pending, self._size = [], 0

    def per_account(self) -> pa.Table:
        """Records per account of the closed map (``account_id``, ``records``; by id)."""
        if self._tally is None:
            return _records_per_account(self.path)
        return self._tally.result()

    def close(self) -> None:
        """Finish the file."""
        self._flush()
        assert self._writer is not None
        self._writer.close()

    def discard(self) -> None:
        """Remove the file, finished or not (it was renamed if it was recorded)."""
        if self._writer is not None and self._writer.is_open:
            self._writer.close()
        self.path.unlink(missing_ok=True)


def _running(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _map_part(
    table: str, rows: pa.RecordBatch, account: str, origin: Any, entries: Any
) -> pa.RecordBatch:
    """Map rows of ``table`` (``DATA`` or ``INTERACTIONS``): whose (``account``), which item,
    of which kind, the original it follows (``origin``) and the authorising entry."""
    n = rows.num_rows
    return pa.record_batch(
        {
            "tbl": pa.repeat(pa.scalar(table, pa.string()), n),
            "account_id": rows.column(account),
            "content_id": rows.column("content_id"),
            "kind": rows.column("kind"),
            "origin_id": origin,
            "consent_entry": pa.array(entries, pa.int64()),
        },
        schema=MAP_SCHEMA,
    )


def _records_per_account(path: Path) -> pa.Table:
    """Records per account of a delivery map (``account_id``, ``records``; by id), counted a
    row group at a time (exactly, even when two ids share a hash)."""
    tally = _AccountTally()
    try:
        for ids in _map_account_ids(path):
            tally.add(ids)
    except _CollisionError:
        counted = [
            pa.table({"account_id": ids})
            .group_by("account_id")
            .aggregate([("account_id", "count")])
            for ids in _map_account_ids(path)
        ]
        return (
            pa.concat_tables(counted)
            .group_by("account_id")
            .aggregate([("account_id_count", "sum")])
            .rename_columns(["account_id", "records"])
            .sort_by("account_id")
        )
    return tally.result()


def _map_account_ids(path: Path) -> Iterator[pa.Array]:
    with pq.ParquetFile(path) as mapped:
        for group in range(mapped.num_row_groups):
            yield mapped.read_row_group(group, columns=["account_id"]).column(0).combine_chunks()


class _AccountTally:
    """Records per account, part by part: counted by the 64-bit hash of each id (numpy, 16
    bytes per account), each id kept once, in the order of its hash. Arrow's hash aggregation
    of the ids themselves, folded part by part, peaked at ~30 MB for 100,000 accounts. Two ids
    sharing a hash (almost never) are not told apart by the count: ``add`` then raises
    ``_CollisionError``, and the caller counts with Arrow's exact aggregation instead."""

    def __init__(self) -> None:
        self._keys: U64 = np.empty(0, dtype=np.uint64)
        self._counts: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._ids: pa.Array = pa.array([], pa.string())

    def add(self, account_ids: pa.Array) -> None:
        keys = hash_ids(account_ids)
        self._insert(keys, account_ids)
        pos = np.searchsorted(self._keys, keys)
        same = pc.equal(self._ids.take(pa.array(pos)), account_ids)
        if len(account_ids) and not pc.all(pc.fill_null(same, False)).as_py():
            raise _CollisionError  # (pc.all of nothing is null, not true)
        where, counts = np.unique(pos, return_counts=True)
        self._counts[where] += counts

    def _insert(self, keys: U64, ids: pa.Array) -> None:
        """Add the keys not yet known (with their ids), keeping keys in ascending order."""
        distinct, first = np.unique(keys, return_index=True)
        known = contains(self._keys, distinct)
        if known.all():
            return
        fresh = np.nonzero(~known)[0]
        merged = np.concatenate([self._keys, distinct[fresh]])
        order = np.argsort(merged, kind="stable")
        self._keys = merged[order]
        self._counts = np.concatenate([self._counts, np.zeros(len(fresh), np.int64)])[order]
        names = pa.concat_arrays([self._ids, ids.take(pa.array(first[fresh]))])
        self._ids = names.take(pa.array(order))

    def result(self) -> pa.Table:
        table = pa.table({"account_id": self._ids, "records": pa.array(self._counts, pa.int64())})
        return table.sort_by("account_id")


class _CollisionError(Exception):
    """Two account ids share a 64-bit hash: the tally starts again, exactly."""
