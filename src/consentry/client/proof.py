"""The deletion attestation's Merkle root: the one definition both sides compute.

The licensee computes it over the records its copy still holds; the platform over its delivery
map minus the records it told the licensee to delete. Rows are put in ``record_id`` order first
(byte order), so the root depends on which records remain, never on how shards were cut or
rewritten. Leaves are the snapshot's own (``record_id 0x00 consent_entry``, RFC 6962).
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from consentry.snapshot.manifest import leaf_hashes
from consentry.snapshot.merkle import StreamingRoot

SCHEME: Final = "rfc6962-sha256 over remaining records sorted by record_id"


def remaining_root(
    record_ids: pa.Array | pa.ChunkedArray, entries: pa.Array | pa.ChunkedArray
) -> tuple[str, int]:
    """(root hex, leaves) over the given records, whatever their order."""
    table = pa.table({"record_id": record_ids, "consent_entry": pc.cast(entries, pa.int64())})
    table = table.sort_by([("record_id", "ascending")])
    tree = StreamingRoot()
    for batch in table.to_batches(max_chunksize=262_144):
        tree.add_leaves(leaf_hashes(batch.column("record_id"), batch.column("consent_entry")))
    return tree.root().hex(), tree.count
