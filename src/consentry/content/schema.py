"""What the content store holds: one versioned, bucketed table per kind of record.

Every stored row carries its provenance: ``import_seq`` (the import that wrote this version),
``source_file`` (index into that import's file list, in ``imports/<seq>.json``) and
``source_line`` (1-based line or row in that file; null when the source has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
#: Media attached to an item: its type (photo, video, …) and alt text.
MEDIA_TYPE: Final = pa.list_(pa.struct([("type", pa.string()), ("alt_text", pa.string())]))

PROVENANCE: Final = (
    pa.field("import_seq", pa.int32(), nullable=False),
    pa.field("source_file", pa.int32()),
    pa.field("source_line", pa.int64()),
)
PROVENANCE_NAMES: Final = tuple(f.name for f in PROVENANCE)

ITEM_SCHEMA: Final = pa.schema(
    [
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("author_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        pa.field("lang", pa.string()),
        pa.field("visibility", pa.string(), nullable=False),
        pa.field("in_reply_to", pa.string()),
        pa.field("quote_of", pa.string()),
        pa.field("repost_of", pa.string()),
        pa.field("conversation_id", pa.string()),
        pa.field("deleted_at", TIMESTAMP),
        pa.field("media", MEDIA_TYPE),
        pa.field("mentions", pa.list_(pa.string())),
        *PROVENANCE,
    ]
)

ACCOUNT_SCHEMA: Final = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("handle", pa.string(), nullable=False),
        pa.field("display_name", pa.string()),
        pa.field("created_at", TIMESTAMP, nullable=False),
        *PROVENANCE,
    ]
)

INTERACTION_SCHEMA: Final = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("at", TIMESTAMP, nullable=False),
        *PROVENANCE,
    ]
)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A versioned table: rows with equal ``key`` are versions of one record; the newest
    (highest ``import_seq``) is current. ``bucket_by`` picks the bucket (a key column, so that
    all versions of a record share a bucket)."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    bucket_by: str
    buckets: int
    #: Columns with few distinct values: dictionary-encoded in Parquet (ids and texts are not:
    #: a dictionary of unique values only costs time).
    dictionary: tuple[str, ...] = ()

    @property
    def compared(self) -> tuple[str, ...]:
        """Columns whose change makes a new version (all but the key and provenance)."""
        skip = set(self.key) | set(PROVENANCE_NAMES)
        return tuple(n for n in self.schema.names if n not in skip)

    @property
    def data_columns(self) -> tuple[str, ...]:
        return tuple(n for n in self.schema.names if n not in PROVENANCE_NAMES)


# Bucket counts are fixed when a store is created (recorded in store.json). 64 buckets keep a
# bucket of a 10M-item store around 160k rows (~50 MB in memory), and still under 2M rows at
# 100M+ items.
_LOW: Final = ("import_seq", "source_file")
ITEMS: Final = TableSpec(
    "items",
    ITEM_SCHEMA,
    ("content_id",),
    "content_id",
    64,
    ("kind", "lang", "visibility", *_LOW),
)
ACCOUNTS: Final = TableSpec("accounts", ACCOUNT_SCHEMA, ("account_id",), "account_id", 16, _LOW)
INTERACTIONS: Final = TableSpec(
    "interactions",
    INTERACTION_SCHEMA,
    ("account_id", "content_id", "kind"),
    "content_id",
    64,
    ("kind", *_LOW),
)
TABLES: Final = {t.name: t for t in (ITEMS, ACCOUNTS, INTERACTIONS)}
