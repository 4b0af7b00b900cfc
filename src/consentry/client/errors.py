"""What can go wrong on the licensee's side, in Consentry's error tree (``consentry.errors``):
each with its exit code, so a cron job tells a bad key from a server that is down."""

from __future__ import annotations

from consentry.errors import ConsentryError, SnapshotError


class SyncError(ConsentryError):
    """The server answered something a sync cannot go on with (a problem it reported)."""

    exit_code = 11


class ServerUnreachableError(SyncError):
    """No answer from the server (down, wrong URL, network), or it failed (5xx)."""

    exit_code = 12


class BadKeyError(SyncError):
    """The server refused the key (401/403): not a licensee key, revoked, or mistyped."""

    exit_code = 13


class ChecksumError(SnapshotError):
    """A downloaded file is not the one the manifest names (SHA-256 or Merkle root): nothing
    of that snapshot is published."""
