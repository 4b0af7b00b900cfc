"""A small hand-made platform whose every verdict is known, and the builder around it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from consentry.content.schema import ITEMS
from consentry.ledger import open_ledger
from consentry.ledger.store import LedgerStore
from consentry.model import AccountChange, ConsentDecision, Decision, Scope
from consentry.policy import load_policy
from consentry.snapshot.build import Builder, BuildSpec
from consentry.snapshot.executors import LocalExecutor
from consentry.snapshot.records import RecordMaker
from consentry.snapshot.source import CONTENT_COLUMNS, MemorySource

T0 = datetime(2024, 7, 1, tzinfo=UTC)


class KeyedPseudonyms:
    """HMAC pseudonyms, the shape of ``consentry.scrub``'s, for tests of the builder alone."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _map(self, domain: str, ids: Any) -> Any:
        out = [
            None
            if v is None
            else domain
            + hmac.new(self.key, f"{domain}{v}".encode(), hashlib.sha256).hexdigest()[:16]
            for v in ids.to_pylist()
        ]
        return pa.array(out, pa.string())

    def accounts(self, ids: Any) -> Any:
        return self._map("u_", ids)

    def contents(self, ids: Any) -> Any:
        return self._map("c_", ids)


def no_scrub(texts: Any) -> tuple[Any, Any]:
    return texts, pa.array([[] for _ in range(len(texts))], pa.list_(pa.string()))


ACCOUNTS = {
    # id: (country, birth date, protected, status)
    "a1": ("FR", date(1990, 1, 1), False, "active"),
    "a2": ("FR", date(1985, 1, 1), False, "active"),  # never decided
    "a3": ("DE", date(2012, 1, 1), False, "active"),  # minor
    "a4": ("US", date(1980, 1, 1), True, "active"),  # protected
    "a5": ("GB", None, False, "active"),  # unknown age, denies assistant
    "a6": ("FR", date(1970, 1, 1), False, "deleted"),
}


def seed_ledger(ledger: LedgerStore) -> None:
    items: list[ConsentDecision | AccountChange] = [
        AccountChange(
            aid,
            T0 - timedelta(days=400),
            {"country": c, "birth_date": b, "protected": p, "status": s},
            created=True,
        )
        for aid, (c, b, p, s) in ACCOUNTS.items()
    ]
    for aid in ("a1", "a3", "a4", "a5", "a6"):
        items.append(ConsentDecision(aid, "train", Decision.GRANT, T0))
    items.append(
        ConsentDecision("a5", "train", Decision.DENY, T0 + timedelta(days=1), scope=Scope.ASSISTANT)
    )
    items.append(ConsentDecision("a1", "share", Decision.GRANT, T0))
    ledger.append(items)


def _content_rows() -> list[dict[str, Any]]:
    def item(
        cid: str, author: str, kind: str = "post", text: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        row = {
            "content_id": cid,
            "author_id": author,
            "kind": kind,
            "text": text if text is not None else f"text of {cid}",
            "created_at": T0 + timedelta(hours=int(cid[1:])),
            "lang": "fr",
            "visibility": "public",
            "in_reply_to": None,
            "quote_of": None,
            "repost_of": None,
            "conversation_id": None,
            "deleted_at": None,
        }
        row.update(kw)
        return row

    return [
        item("c1", "a1"),  # eligible
        item("c2", "a2"),  # no_consent
        item("c3", "a3"),  # minor
        item("c4", "a4"),  # protected_account
        item("c5", "a5"),  # eligible (age unknown, counted)
        item("c6", "a6"),  # account_deleted
        item("c7", "a1", kind="dm", visibility="direct"),  # direct_message
        item("c8", "a1", visibility="followers"),  # not_public
        item("c9", "a1", deleted_at=T0),  # content_deleted
        item("c10", "a1", text="Same  words"),  # kept: the earliest
        item("c11", "a1", text="same words "),  # duplicate
        item("c12", "a1", kind="reply", in_reply_to="c1"),  # eligible, linked to c1
        item("c13", "a1", kind="reply", in_reply_to="c2"),  # eligible, parent not in snapshot
        item("c14", "a1", kind="repost", text="RT @x: text of c5", repost_of="c5"),  # eligible
        item("c15", "a1", kind="repost", text="RT @y: text of c2", repost_of="c2"),  # no_consent
        item("c16", "a5", kind="assistant_prompt", visibility="direct", conversation_id="k1"),
        item("c17", "a1", kind="assistant_response", visibility="direct", conversation_id="k2"),
        item("c18", "a1", kind="quote", quote_of="c3"),  # eligible, quoted item excluded
        item("c19", "zz"),  # unknown author: account_inactive
    ]


EXPECTED = {
    "c1": 0, "c2": 9, "c3": 3, "c4": 5, "c5": 0, "c6": 1, "c7": 6, "c8": 7, "c9": 8, "c10": 0,
    "c11": 12, "c12": 0, "c13": 0, "c14": 0, "c15": 9, "c16": 10, "c17": 0, "c18": 0, "c19": 2,
}  # fmt: skip


def content_table() -> pa.Table:
    # The content store's own column types, for the columns the builder reads.
    schema = pa.schema([ITEMS.schema.field(name) for name in CONTENT_COLUMNS])
    return pa.Table.from_pylist(_content_rows(), schema=schema)


def interactions_table() -> pa.Table:
    return pa.table(
        {
            "account_id": ["a1", "a2", "a1", "a3"],
            "content_id": ["c5", "c1", "c2", "c1"],
            "kind": ["like"] * 4,
            "at": pa.array([T0] * 4, pa.timestamp("us", tz="UTC")),
        }
    )


Build = Callable[..., Any]


@pytest.fixture
def ledger(tmp_path: Path) -> LedgerStore:
    store = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", create=True)
    seed_ledger(store)
    return store


@pytest.fixture
def build(ledger: LedgerStore, tmp_path: Path) -> Build:
    def run(
        out: str = "snap",
        *,
        key: bytes = b"k" * 32,
        source: Any = None,
        sink: Any = None,
        executor: Any = None,
        **spec: Any,
    ) -> Any:
        src = source or MemorySource(content_table(), interactions=interactions_table())
        builder = Builder(
            ledger=ledger,
            policy=load_policy(),
            source=src,
            maker=RecordMaker(KeyedPseudonyms(key), no_scrub, "day"),
            key_fingerprint=hashlib.sha256(key).hexdigest()[:16],
            executor=executor or LocalExecutor(1),
        )
        spec.setdefault("batch_size", 4)
        spec.setdefault("shard_rows", 8)
        spec.setdefault("census_rows", 8)  # two buckets of 4 per census task
        spec.setdefault("purpose", "train")
        return builder.build(BuildSpec(out=tmp_path / out, **spec), sink=sink)

    return run


class RecordingSink:
    """An ``IncludedSink`` that keeps what it is told: (content ids, entries), (account ids,
    content ids, entries)."""

    def __init__(self) -> None:
        self.content_rows: list[tuple[str, int]] = []
        self.interaction_rows: list[tuple[str, str, int]] = []

    def content(self, rows: pa.RecordBatch, entries: Any) -> None:
        ids = rows.column("content_id").to_pylist()
        self.content_rows += list(zip(ids, entries.tolist(), strict=True))

    def interactions(self, rows: pa.RecordBatch, entries: Any) -> None:
        who = rows.column("account_id").to_pylist()
        what = rows.column("content_id").to_pylist()
        self.interaction_rows += list(zip(who, what, entries.tolist(), strict=True))


def ids_of(pseudonyms: KeyedPseudonyms, cids: list[str]) -> list[str]:
    return pseudonyms.contents(pa.array(cids)).to_pylist()  # type: ignore[no-any-return]


def read_records(folder: Path) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(folder / "data")


__all__ = ["EXPECTED", "Build", "KeyedPseudonyms", "ids_of", "pc", "read_records"]
