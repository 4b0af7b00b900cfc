"""The content store: imported content items, interactions and account names, as Parquet.

Layout (``<workspace>/content``)::

    store.json                     format version and the bucket count of each table
    .lock                          held by the one import writing at a time
    imports/000007.json            commit marker of import 7: its files, counts, and per-bucket
                                   totals; a segment is visible only once its marker exists
    imports/issued                 the last import number handed out, committed or not
    items/b05/000007.parquet       segment: the versions import 7 wrote to bucket 5 of items
    accounts/b03/000001.parquet
    interactions/b61/000002.parquet
    staging/000008/…               an import in progress (removed at commit; a crashed import's
                                   leftovers are removed by the next one)

Why this shape: a snapshot must stream the *current* version of every item with bounded memory,
and re-imports must find the previous version of each incoming row without an index of all
ids. Rows are hash-partitioned by id (``consentry.content.buckets``) into a fixed number of
buckets, so every version of an item lands in the same bucket; each import appends at most one
segment per bucket, holding at most one row per key. The current version of a key is its row in
the newest committed segment of its bucket. A bucket (all its versions) is the unit of work both
for imports (compare incoming rows with current ones) and for readers (yield a bucket's current
rows), and one bucket fits in memory at 10M+ items (64 buckets: ~160k items each at 10M).
Versions are kept (a changed item is a new row, the old one stays): history is evidence;
erasure (compliance) rewrites segments when the law requires it.

Readers take the set of committed imports when they start (``scan``), so an import committing
meanwhile is either wholly visible or not at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from consentry.content.schema import ACCOUNTS, INTERACTIONS, ITEMS, TABLES, TableSpec
from consentry.errors import WorkspaceError

FORMAT: Final = 1
DEFAULT_BATCH: Final = 65_536
_SEGMENT: Final = re.compile(r"^(\d{6,})\.parquet$")


def segment_name(seq: int) -> str:
    return f"{seq:06d}.parquet"


def bucket_dir(root: Path, table: str, bucket: int) -> Path:
    return root / table / f"b{bucket:02d}"


def marker_path(root: Path, seq: int) -> Path:
    return root / "imports" / f"{seq:06d}.json"


def key_column(table: pa.Table, spec: TableSpec) -> pa.Array:
    """One string per row naming its record (several key columns joined without ambiguity)."""
    if len(spec.key) == 1:
        col = table.column(spec.key[0])
        return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    parts: list[Any] = []
    for name in spec.key[:-1]:
        col = table.column(name)
        # A length prefix keeps ("a|b", "c") and ("a", "b|c") apart whatever the ids hold.
        parts += [pc.cast(pc.utf8_length(col), pa.string()), col]
    parts.append(table.column(spec.key[-1]))
    joined = pc.binary_join_element_wise(*parts, ":")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def first_per_key(keys: pa.Array) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Indices of the first row of each distinct key, in row order."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    codes = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)
    out: np.ndarray[Any, np.dtype[np.int64]] = np.sort(first).astype(np.int64)
    return out


@dataclass(frozen=True, slots=True)
class ImportInfo:
    """A committed import, as its marker records it."""

    seq: int
    id: str
    source: str
    files: tuple[str, ...]
    committed_at: str
    totals: dict[str, dict[str, list[int]]]


@dataclass(frozen=True, slots=True)
class StoreCounts:
    items: int
    deleted_items: int
    accounts: int
    interactions: int
    imports: int


class ContentStore:
    """Read access to a workspace's content store (``ImportWriter`` writes to it)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ---- layout --------------------------------------------------------------------------------

    def buckets(self, spec: TableSpec) -> int:
        """The bucket count of a table in this store (fixed when the store was created)."""
        return int(self.layout().get(spec.name, spec.buckets))

    def layout(self) -> dict[str, int]:
        path = self.root / "store.json"
        if not path.exists():
            return {name: t.buckets for name, t in TABLES.items()}
        try:
            meta = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"{path}: unreadable content store description: {exc}") from None
        if meta.get("format") != FORMAT:
            raise WorkspaceError(
                f"{path}: content store format {meta.get('format')!r} is not {FORMAT}"
            )
        return {str(k): int(v) for k, v in meta["buckets"].items()}

    def ensure_layout(self) -> None:
        path = self.root / "store.json"
        if path.exists():
            self.layout()
            return
        self.root.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "buckets": {n: t.buckets for n, t in TABLES.items()}}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
        tmp.replace(path)

    # ---- imports -------------------------------------------------------------------------------

    def imports(self) -> list[ImportInfo]:
        """Committed imports, oldest first."""
        folder = self.root / "imports"
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("*.json")):
            meta = json.loads(path.read_text("utf-8"))
            out.append(
                ImportInfo(
                    seq=int(meta["seq"]),
                    id=str(meta["id"]),
                    source=str(meta["source"]),
                    files=tuple(meta["files"]),
                    committed_at=str(meta["committed_at"]),
                    totals=meta["totals"],
                )
            )
        return out

    def committed(self) -> frozenset[int]:
        return frozenset(i.seq for i in self.imports())

    def segments(self, spec: TableSpec, bucket: int, committed: frozenset[int]) -> list[Path]:
        """Committed segments of a bucket, newest first."""
        folder = bucket_dir(self.root, spec.name, bucket)
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            m = _SEGMENT.match(path.name)
            if m and int(m.group(1)) in committed:
                found.append((int(m.group(1)), path))
        return [p for _, p in sorted(found, reverse=True)]

    # ---- reading -------------------------------------------------------------------------------

    def current(
        self,
        spec: TableSpec,
        bucket: int,
        columns: Sequence[str] | None = None,
        *,
        committed: frozenset[int] | None = None,
    ) -> pa.Table:
        """The current version of every record of one bucket (the ``columns`` asked, or all)."""
        committed = self.committed() if committed is None else committed
        wanted = list(columns) if columns is not None else list(spec.schema.names)
        unknown = set(wanted) - set(spec.schema.names)
        if unknown:
            raise ValueError(f"{spec.name} has no column(s) {', '.join(sorted(unknown))}")
        segs = self.segments(spec, bucket, committed)
        if not segs:
            return spec.schema.empty_table().select(wanted)
        if len(segs) == 1:  # a segment holds one row per key: nothing to resolve
            return pq.read_table(segs[0], columns=wanted)
        read = list(dict.fromkeys([*wanted, *spec.key]))
        # Newest segment first, so the first row of each key is its current version.
        table = pa.concat_tables([pq.read_table(p, columns=read) for p in segs]).combine_chunks()
        table = table.take(pa.array(first_per_key(key_column(table, spec))))
        return table.select(wanted)

    def _scan(
        self,
        spec: TableSpec,
        columns: Sequence[str] | None,
        batch_size: int,
        committed: frozenset[int] | None,
    ) -> Iterator[pa.RecordBatch]:
        committed = self.committed() if committed is None else committed
        for bucket in range(self.buckets(spec)):
            table = self.current(spec, bucket, columns, committed=committed)
            yield from table.to_batches(max_chunksize=batch_size)

    def scan(
        self,
        columns: Sequence[str] | None = None,
        batch_size: int = DEFAULT_BATCH,
        *,
        committed: frozenset[int] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Current version of every content item (deleted ones too, with ``deleted_at``),
        bucket by bucket; memory holds one bucket at a time. Columns: ``ITEM_SCHEMA``.

        ``committed`` pins the read to a set of imports (``committed()`` taken earlier), so
        that several passes see the same content while another import commits."""
        return self._scan(ITEMS, columns, batch_size, committed)

    def scan_interactions(
        self,
        columns: Sequence[str] | None = None,
        batch_size: int = DEFAULT_BATCH,
        *,
        committed: frozenset[int] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Current interactions (likes, reposts, bookmarks). Columns: ``INTERACTION_SCHEMA``."""
        return self._scan(INTERACTIONS, columns, batch_size, committed)

    def accounts(
        self,
        columns: Sequence[str] = ("account_id", "handle", "display_name"),
        *,
        committed: frozenset[int] | None = None,
    ) -> pa.Table:
        """Current name of every account (for mention pseudonymisation: handle → account id)."""
        committed = self.committed() if committed is None else committed
        parts = [
            self.current(ACCOUNTS, b, columns, committed=committed)
            for b in range(self.buckets(ACCOUNTS))
        ]
        return pa.concat_tables(parts).combine_chunks()

    def account_ids(self) -> pa.Array:
        column = self.accounts(("account_id",)).column("account_id")
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column

    def counts(self) -> StoreCounts:
        """Current records per table, from the newest commit marker (no data read)."""
        imports = self.imports()
        if not imports:
            return StoreCounts(0, 0, 0, 0, 0)
        totals = imports[-1].totals

        def total(name: str, what: str = "rows") -> int:
            return int(sum(totals.get(name, {}).get(what, [])))

        return StoreCounts(
            items=total("items"),
            deleted_items=total("items", "deleted"),
            accounts=total("accounts"),
            interactions=total("interactions"),
            imports=len(imports),
        )
