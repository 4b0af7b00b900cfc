"""The licensee's side: sync snapshots from a Consentry service, apply the deletions its
compliance feed names, and attest them. Needs no workspace and none of the ledger's code:
``httpx`` and ``pyarrow`` (and the snapshot format's own modules)."""

from consentry.client.api import LicenseeApi
from consentry.client.sync import Progress, Sync, SyncResult, sync
from consentry.errors import BadKeyError, ChecksumError, ServerUnreachableError, SyncError

__all__ = [
    "BadKeyError",
    "ChecksumError",
    "LicenseeApi",
    "Progress",
    "ServerUnreachableError",
    "Sync",
    "SyncError",
    "SyncResult",
    "sync",
]
