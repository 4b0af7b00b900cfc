"""Looking inside snapshots: those a workspace recorded, what one holds (from its folder alone,
as a licensee has it), and, for the operator, records beside the text they were made from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from consentry.compliance.deliveries import DATA, Deliveries, Delivery
from consentry.content.buckets import bucket_of
from consentry.content.schema import ITEMS
from consentry.content.store import ContentStore
from consentry.errors import NotFoundError, UsageError
from consentry.ledger import LedgerStore
from consentry.model import Reason
from consentry.scrub.pseudonym import Pseudonymiser
from consentry.snapshot.manifest import MANIFEST_NAME, Manifest
from consentry.snapshot.records import RECORD_SCHEMA

#: Columns of the records ``first_records`` returns, in the order shown.
SHOWN_COLUMNS: Final = ("record_id", "kind", "lang", "created_at", "pii", "text")


@dataclass(frozen=True, slots=True)
class RecordedSnapshot:
    delivery: Delivery
    #: Whether the folder the snapshot was published in still holds it.
    present: bool


def recorded_snapshots(ledger: LedgerStore) -> list[RecordedSnapshot]:
    """Every snapshot the workspace built, oldest first."""
    return [
        RecordedSnapshot(d, (Path(d.path) / MANIFEST_NAME).is_file())
        for d in Deliveries(ledger).all()
    ]


def is_snapshot_folder(ref: str | Path) -> bool:
    return (Path(ref) / MANIFEST_NAME).is_file()


def recorded_folder(ledger: LedgerStore, snapshot_id: str) -> Path:
    """The folder of a snapshot the workspace recorded, by its id."""
    delivery = Deliveries(ledger).get(snapshot_id)
    if delivery is None:
        raise NotFoundError(
            f"no snapshot {snapshot_id!r} in this workspace, and no snapshot folder of that "
            "name (see `consentry snapshot list`)"
        )
    folder = Path(delivery.path)
    if not is_snapshot_folder(folder):
        raise NotFoundError(f"snapshot {snapshot_id} was published in {folder}, no longer there")
    return folder


def excluded_in_order(manifest: Manifest) -> list[tuple[str, int]]:
    """(reason code, items) of what the snapshot left out, in the order reasons apply."""
    excluded: Mapping[str, int] = manifest.counts.get("excluded", {})
    return sorted(excluded.items(), key=lambda kv: Reason.from_code(kv[0]))


def first_records(folder: Path, manifest: Manifest, n: int, *, with_pii: bool = False) -> pa.Table:
    """The first ``n`` records in Merkle order (``with_pii``: of those where personal data was
    replaced), ``SHOWN_COLUMNS`` only; shards are read one at a time until there are enough."""
    parts: list[pa.Table] = []
    found = 0
    for shard in manifest.shard_infos():
        if found >= n:
            break
        table = pq.read_table(folder / shard.path, columns=list(SHOWN_COLUMNS))
        if with_pii:
            table = table.filter(
                pc.fill_null(pc.greater(pc.list_value_length(table["pii"]), 0), False)
            )
        parts.append(table.slice(0, n - found))
        found += parts[-1].num_rows
    if not parts:
        return pa.schema([RECORD_SCHEMA.field(c) for c in SHOWN_COLUMNS]).empty_table()
    return pa.concat_tables(parts)


def original_texts(
    ledger: LedgerStore,
    content_dir: Path,
    secret: bytes,
    manifest: Manifest,
    record_ids: Sequence[str],
) -> dict[str, str | None]:
    """Record id → the text it was made from, as the content store holds it now (``None``
    where the item is gone), for records of a snapshot this workspace recorded. The record's
    content id is found in the snapshot's delivery map (pseudonyms cannot be reversed)."""
    if not record_ids:
        return {}
    delivery = Deliveries(ledger).get(manifest.snapshot_id)
    if delivery is None:
        raise UsageError(
            f"snapshot {manifest.snapshot_id} is not recorded in this workspace: the texts its "
            "records were made from cannot be found"
        )
    ids = delivery.read_map(["content_id"], where=ds.field("tbl") == DATA)["content_id"]
    pseudonyms = Pseudonymiser(secret, manifest.recipient).contents(ids)
    wanted = pc.is_in(pseudonyms, value_set=pa.array(list(record_ids), pa.string()))
    content_ids = pc.filter(ids, wanted)
    by_content = dict(
        zip(content_ids.to_pylist(), pc.filter(pseudonyms, wanted).to_pylist(), strict=True)
    )
    texts = _texts(ContentStore(content_dir), content_ids)
    out: dict[str, str | None] = dict.fromkeys(record_ids)
    for content_id, rid in by_content.items():
        out[rid] = texts.get(content_id)
    return out


def _texts(store: ContentStore, content_ids: pa.Array | pa.ChunkedArray) -> dict[str, str]:
    """Text of each content id, reading only the buckets that hold them."""
    out: dict[str, str] = {}
    if not len(content_ids):
        return out
    buckets = bucket_of(content_ids, store.buckets(ITEMS))
    for bucket in np.unique(buckets):
        table = store.current(ITEMS, int(bucket), ["content_id", "text"])
        hit = table.filter(pc.is_in(table["content_id"], value_set=content_ids))
        out.update(zip(hit["content_id"].to_pylist(), hit["text"].to_pylist(), strict=True))
    return out
