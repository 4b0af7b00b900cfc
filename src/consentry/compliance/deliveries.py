"""Deliveries: every snapshot built from the workspace, and exactly which records it holds.

A snapshot's records carry only pseudonyms. To tell a recipient later which of *its* records to
delete, Consentry keeps, per snapshot, a private *delivery map*: one row per delivered record with
the raw ids (``content_id``, the owning ``account_id``) it was made from. Pseudonyms are
recomputed from those ids with the recipient's key when an event is emitted, so no key and no
pseudonym table is stored anywhere: keys stay derived from the workspace secret.

The map is Parquet in ``<workspace>/deliveries`` (millions of rows per snapshot do not belong in
the database); its SHA-256 is kept in the ``deliveries`` row, so a map that changed is refused.
Per account, the number of records each delivery holds goes to the database
(``delivered_accounts``), which answers "where is my data" with one index probe per snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from consentry.compliance import db
from consentry.compliance.clock import now
from consentry.compliance.recipients import Recipients
from consentry.errors import ConsentryError, WorkspaceError
from consentry.ledger import LedgerStore
from consentry.ledger.entries import from_us, to_us
from consentry.model import Reason
from consentry.policy import Policy
from consentry.policy.frame import StateIndex
from consentry.snapshot.build import DEFAULT_BATCH, BuildResult, interaction_verdicts
from consentry.snapshot.census import Census, coalesced, contains, content_keys
from consentry.snapshot.source import ContentSource

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
#: Rows per content batch read: as the build reads (``DEFAULT_BATCH``), so that the map adds
#: nothing to the build's peak memory.
_BATCH: Final = DEFAULT_BATCH
#: Rows per row group of the map (each also folded into the per-account tally at once).
_ROW_GROUP: Final = 65_536


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
            digest = _sha256(path)
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
    " records, accounts, map_path, map_sha256"
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
    )


class Deliveries:
    def __init__(self, ledger: LedgerStore, maps_dir: Path | None = None) -> None:
        self.ledger = ledger
        self.maps_dir = maps_dir

    def all(self) -> list[Delivery]:
        rows = self.ledger.query(f"SELECT {_COLUMNS} FROM deliveries ORDER BY delivery_id")
        return [_delivery(r) for r in rows]

    def for_recipient(self, name: str) -> list[Delivery]:
        rows = self.ledger.query(
            f"SELECT {_COLUMNS} FROM deliveries WHERE recipient = ? ORDER BY delivery_id", (name,)
        )
        return [_delivery(r) for r in rows]

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

    def record(self, result: BuildResult, source: ContentSource, policy: Policy) -> Delivery:
        """Record a published snapshot as delivered (to its recipient, or kept internally).

        Building the same snapshot again (same id) records nothing new."""
        manifest = result.manifest
        existing = self.get(manifest.snapshot_id)
        if existing is not None:
            if existing.path != str(result.out.resolve()):
                self.ledger.execute(
                    "UPDATE deliveries SET path = ? WHERE delivery_id = ?",
                    (str(result.out.resolve()), existing.delivery_id),
                )
            return self.get(manifest.snapshot_id) or existing
        if manifest.recipient is not None:
            Recipients(self.ledger).get(manifest.recipient)
        if self.maps_dir is None:
            raise ConsentryError("deliveries need a folder for their maps")
        self.maps_dir.mkdir(parents=True, exist_ok=True)
        map_path = self.maps_dir / f"{manifest.snapshot_id}.parquet"
        per_account = write_map(map_path, result, source, policy)
        digest = _sha256(map_path)
        created = now()
        records = int(sum(per_account.column("records").to_pylist()))
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
                f"INSERT INTO deliveries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery_id,
                    manifest.snapshot_id,
                    manifest.purpose,
                    manifest.recipient,
                    str(result.out.resolve()),
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


def write_map(path: Path, result: BuildResult, source: ContentSource, policy: Policy) -> pa.Table:
    """Write the delivery map of a build; returns the records per account."""
    census, index, on = result.census, result.index, result.on
    if census is None or index is None or on is None:
        raise ConsentryError("this build result does not say which items went in")
    tmp = path.with_suffix(".tmp")
    tally = _AccountTally()
    parts = (
        _data_rows(source, census.reasons, census.consent_entry),
        _interaction_rows(source, census, index, policy, on),
    )
    with pq.ParquetWriter(tmp, MAP_SCHEMA, compression="zstd") as writer:
        for rows in parts:
            # Batches are read small (memory): the few included rows of each, joined, make
            # row groups of a useful size.
            for group in coalesced(rows, _ROW_GROUP):
                writer.write_batch(group)
                tally.add(group.column("account_id"))
    tmp.replace(path)
    return tally.result()


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


def _data_rows(source: ContentSource, reasons: Any, entries: Any) -> Iterator[pa.RecordBatch]:
    offset = 0
    columns = ["content_id", "author_id", "kind", "repost_of"]
    for batch in source.scan(columns, _BATCH):
        end = offset + batch.num_rows
        keep = np.nonzero(reasons[offset:end] == Reason.ELIGIBLE)[0]
        kept_entries = entries[offset:end][keep]
        offset = end
        if len(keep) == 0:
            continue
        rows = batch.take(pa.array(keep))
        yield _map_part(DATA, rows, "author_id", rows.column("repost_of"), kept_entries)
    if offset != len(reasons):
        raise ConsentryError("content changed since the build: its delivery map cannot be made")


def _interaction_rows(
    source: ContentSource, census: Census, index: StateIndex, policy: Policy, on: date
) -> Iterator[pa.RecordBatch]:
    for batch in source.scan_interactions(_BATCH):
        # As the build does: only interactions of included content can be in.
        linked = contains(census.included_keys, content_keys(batch.column("content_id")))
        if not linked.any():
            continue
        batch = batch.take(pa.array(np.nonzero(linked)[0]))
        reasons, entries = interaction_verdicts(batch, index, policy, on)
        keep = np.nonzero(reasons == Reason.ELIGIBLE)[0]
        if len(keep) == 0:
            continue
        rows = batch.take(pa.array(keep))
        origin = pa.nulls(len(keep), pa.string())
        yield _map_part(INTERACTIONS, rows, "account_id", origin, entries[keep])


class _AccountTally:
    """Records per account, folded part by part: memory follows the number of accounts, not of
    records (a list of one count table per part grew with the snapshot)."""

    def __init__(self) -> None:
        self._total = pa.table(
            {"account_id": pa.array([], pa.string()), "records": pa.array([], pa.int64())}
        )

    def add(self, account_ids: pa.Array) -> None:
        counted = (
            pa.table({"account_id": account_ids})
            .group_by("account_id")
            .aggregate([("account_id", "count")])
            .rename_columns(["account_id", "records"])
        )
        self._total = (
            pa.concat_tables([self._total, counted])
            .group_by("account_id")
            .aggregate([("records", "sum")])
            .rename_columns(["account_id", "records"])
        )

    def result(self) -> pa.Table:
        return self._total.sort_by("account_id")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
