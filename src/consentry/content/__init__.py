"""The content store: imported content, interactions and account names, as bucketed Parquet.

``ContentStore`` reads (``scan``, ``scan_interactions``, ``accounts``, ``counts``);
``ImportWriter`` writes one import. Layout and design: ``consentry.content.store``.
"""

from consentry.content.schema import (
    ACCOUNT_SCHEMA,
    ACCOUNTS,
    INTERACTION_SCHEMA,
    INTERACTIONS,
    ITEM_SCHEMA,
    ITEMS,
    TableSpec,
)
from consentry.content.store import ContentStore, ImportInfo, StoreCounts
from consentry.content.writer import CommitResult, FileCounts, ImportWriter

__all__ = [
    "ACCOUNTS",
    "ACCOUNT_SCHEMA",
    "INTERACTIONS",
    "INTERACTION_SCHEMA",
    "ITEMS",
    "ITEM_SCHEMA",
    "CommitResult",
    "ContentStore",
    "FileCounts",
    "ImportInfo",
    "ImportWriter",
    "StoreCounts",
    "TableSpec",
]
