"""What a snapshot says about itself: ``manifest.json`` (the proof), ``README.md`` (a Hugging
Face dataset card) and ``croissant.json`` (MLCommons Croissant metadata).

The Merkle tree's leaves are ``record_id 0x00 consent_entry`` (the ledger sequence number of
the decision that made the record eligible, or ``default`` when the policy's jurisdiction
default did), in shard and row order; its root binds every record to its authorisation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from consentry import __version__
from consentry.hashing import sha256_each
from consentry.model import Reason
from consentry.snapshot.merkle import leaf_hash
from consentry.snapshot.writer import ShardInfo

MANIFEST_NAME: Final = "manifest.json"
FORMAT: Final = "consentry-snapshot/1"
MERKLE_SCHEME: Final = "rfc6962-sha256; leaf = record_id 0x00 (consent_entry | 'default')"


def leaf_data(record_id: str, consent_entry: int | None) -> bytes:
    entry = "default" if consent_entry is None else str(consent_entry)
    return f"{record_id}\x00{entry}".encode()


def leaf_hashes(record_ids: Any, consent_entries: Any) -> bytes:
    """``leaf_hash(leaf_data(...))`` of whole columns, joined (32 bytes a leaf): the leaf data
    is joined by Arrow and hashed where Arrow holds it."""
    entries = pc.fill_null(pc.cast(consent_entries, pa.string()), "default")
    data = pc.binary_join_element_wise(
        record_ids.cast(pa.binary()), entries.cast(pa.binary()), b"\x00"
    )
    return sha256_each(b"\x00", data)


def iter_leaves(root: Path, shards: Sequence[ShardInfo]) -> Iterator[tuple[str, int | None, bytes]]:
    """(record_id, consent_entry, leaf hash) of every record, in Merkle order."""
    for shard in shards:
        table = pq.read_table(root / shard.path, columns=["record_id", "consent_entry"])
        for rid, entry in zip(
            table["record_id"].to_pylist(), table["consent_entry"].to_pylist(), strict=True
        ):
            yield rid, entry, leaf_hash(leaf_data(rid, entry))


#: Records read at a time for their leaves: the leaf data of a whole 1M-record shard, held by
#: each of the threads hashing shards, would make memory grow with the shards hashed at once.
LEAF_BATCH: Final = 1 << 17


def shard_leaves(path: Path) -> bytes:
    """Leaf hashes of one shard's records, in row order, joined."""
    columns = ["record_id", "consent_entry"]
    with pq.ParquetFile(path) as shard:
        return b"".join(
            leaf_hashes(batch.column(0), batch.column(1))
            for batch in shard.iter_batches(LEAF_BATCH, columns=columns)
        )


@dataclass
class Manifest:
    snapshot_id: str
    created: str
    purpose: str
    recipient: str | None
    ledger: dict[str, Any]
    policy: dict[str, Any]
    counts: dict[str, Any]
    shards: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    merkle: dict[str, Any]
    record_columns: list[str]
    format: str = FORMAT
    consentry_version: str = __version__
    pseudonyms: dict[str, str] = field(default_factory=dict)
    scrub: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        return cls.from_json((folder / MANIFEST_NAME).read_text("utf-8"))

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))

    def shard_infos(self, key: str = "shards") -> list[ShardInfo]:
        return [ShardInfo(**s) for s in getattr(self, key)]


#: Said only when it applies, so that cards without such reposts keep their bytes.
_ORIGINAL_UNAVAILABLE: Final = [
    "A repost stands only with its original: `original_unavailable` counts reposts whose",
    "original the platform's data does not hold (an archive names it, never carries it); they",
    "are not deletions, which `content_deleted` counts.",
    "",
]


def dataset_card(m: Manifest, languages: Sequence[str]) -> str:
    excluded = m.counts.get("excluded", {})
    lines = [
        "---",
        f"pretty_name: Consentry snapshot {m.snapshot_id}",
        "license: other",
        "task_categories:",
        "- text-generation",
        "language:",
        *[f"- {lang}" for lang in languages or ["und"]],
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: data/*.parquet",
        "tags:",
        "- consent-gated",
        "- pseudonymised",
        "---",
        "",
        f"# Consentry snapshot `{m.snapshot_id}`",
        "",
        f"Content whose authors consented to **{m.purpose}**"
        + (f" and to sharing it with **{m.recipient}**" if m.recipient else "")
        + f", as of ledger entry {m.ledger['seq']} (head `{m.ledger['head']}`).",
        "",
        f"- records: {m.counts['included']} of {m.counts['input']} items",
        f"- policy: `{m.policy['source']}` version {m.policy['version']} "
        f"(sha256 `{m.policy['sha256']}`)",
        f"- Merkle root over (record, authorising consent entry): `{m.merkle['root']}`",
        "",
        "## What was left out, and why",
        "",
        "| reason | items |",
        "|---|---|",
        *[f"| {code} | {n} |" for code, n in sorted(excluded.items())],
        "",
        *(_ORIGINAL_UNAVAILABLE if Reason.ORIGINAL_UNAVAILABLE.code in excluded else []),
        "Direct messages, non-public posts, protected accounts, minors and deleted content are",
        "never included. Authors, mentions and ids are keyed pseudonyms specific to this",
        "recipient; emails, phone numbers, payment cards, IBANs, IP addresses and URLs are",
        "replaced by typed placeholders (column `pii` lists what was replaced in each record).",
        "",
        "## Obligations",
        "",
        "Records may be withdrawn later (consent withdrawn, content or account deleted, erasure",
        "request). The holder must delete them when told to by the compliance feed.",
        "",
        "## Verify",
        "",
        "`consentry snapshot verify --offline DIR` checks every shard's checksum and the Merkle",
        "root, with no workspace; `consentry snapshot prove --offline DIR RECORD_ID` prints the",
        "proof for one record; `consentry snapshot show DIR` shows what the snapshot holds.",
        "",
    ]
    return "\n".join(lines)


def croissant(m: Manifest, columns: Mapping[str, str]) -> str:
    """MLCommons Croissant 1.0 JSON-LD for the record shards."""
    files = [
        {
            "@type": "cr:FileObject",
            "@id": shard["path"],
            "name": shard["path"],
            "contentUrl": shard["path"],
            "encodingFormat": "application/x-parquet",
            "sha256": shard["sha256"],
        }
        for shard in m.shards
    ]
    fields = [
        {
            "@type": "cr:Field",
            "@id": f"records/{name}",
            "name": name,
            "dataType": dtype,
            "source": {"fileSet": {"@id": "record-shards"}, "extract": {"column": name}},
        }
        for name, dtype in columns.items()
    ]
    doc = {
        "@context": {
            "@language": "en",
            "@vocab": "https://schema.org/",
            "cr": "http://mlcommons.org/croissant/",
            "sc": "https://schema.org/",
            "dct": "http://purl.org/dc/terms/",
            "citeAs": "cr:citeAs",
            "column": "cr:column",
            "conformsTo": "dct:conformsTo",
            "data": {"@id": "cr:data", "@type": "@json"},
            "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
            "examples": {"@id": "cr:examples", "@type": "@json"},
            "extract": "cr:extract",
            "field": "cr:field",
            "fileObject": "cr:fileObject",
            "fileProperty": "cr:fileProperty",
            "fileSet": "cr:fileSet",
            "format": "cr:format",
            "includes": "cr:includes",
            "isLiveDataset": "cr:isLiveDataset",
            "jsonPath": "cr:jsonPath",
            "key": "cr:key",
            "md5": "cr:md5",
            "parentField": "cr:parentField",
            "path": "cr:path",
            "recordSet": "cr:recordSet",
            "references": "cr:references",
            "regex": "cr:regex",
            "repeated": "cr:repeated",
            "replace": "cr:replace",
            "separator": "cr:separator",
            "source": "cr:source",
            "subField": "cr:subField",
            "transform": "cr:transform",
        },
        "@type": "sc:Dataset",
        "name": f"consentry-snapshot-{m.snapshot_id}",
        "description": f"Consent-gated snapshot for purpose {m.purpose}"
        + (f", recipient {m.recipient}" if m.recipient else ""),
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "url": f"urn:consentry:snapshot:{m.snapshot_id}",
        "license": "other",
        "version": "1.0.0",
        "datePublished": m.created,
        "distribution": [
            *files,
            {
                "@type": "cr:FileSet",
                "@id": "record-shards",
                "name": "record-shards",
                "encodingFormat": "application/x-parquet",
                "includes": "data/*.parquet",
            },
        ],
        "recordSet": [
            {"@type": "cr:RecordSet", "@id": "records", "name": "records", "field": fields}
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
