"""The documented exception tree. The CLI maps each class to an exit code and a clear message.

ConsentryError
├── UsageError            bad argument from a caller (unknown purpose, bad time, …)
│   ├── NotFoundError          something named does not exist (HTTP 404)
│   └── GoneError              something named is gone for good: an erased account (HTTP 410)
├── PolicyError           a policy file with problems (each: key + reason)
├── WorkspaceError        no workspace, or a broken one
├── LedgerError
│   ├── LedgerIntegrityError   the chain does not verify (names the first bad entry)
│   └── LedgerBackendError     the database refused or is unreachable
├── ImportDataError       input that cannot be read at all
├── SnapshotError         a snapshot that does not verify, or a proof that does not hold
│   ├── SnapshotKeyError       built with another pseudonym key than this workspace's
│   └── ChecksumError          a downloaded file is not the one its manifest names (sync)
└── SyncError             the server answered what a licensee's sync cannot go on with
    ├── ServerUnreachableError no answer from the server, or it failed (5xx)
    └── BadKeyError            the server refused the licensee key (401/403)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ConsentryError(Exception):
    """Base of every error Consentry raises on purpose."""

    exit_code = 1


class UsageError(ConsentryError):
    exit_code = 2


class NotFoundError(UsageError):
    """Something named does not exist (a recipient, a snapshot, an event): the HTTP service
    answers 404."""


class GoneError(UsageError):
    """Something named was there and is gone for good (an erased account records nothing more):
    the HTTP service answers 410."""


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}" if self.key else self.reason


class PolicyError(ConsentryError):
    exit_code = 3

    def __init__(self, problems: Sequence[PolicyProblem], source: str) -> None:
        self.problems = tuple(problems)
        self.source = source
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"policy {source} has {len(self.problems)} problem(s):\n{lines}")


class WorkspaceError(ConsentryError):
    exit_code = 4


class LedgerError(ConsentryError):
    """Base of the two ledger errors below: the chain, and the database behind it."""

    exit_code = 5


class LedgerIntegrityError(LedgerError):
    exit_code = 6

    def __init__(self, message: str, seq: int | None = None) -> None:
        self.seq = seq
        super().__init__(message)


class LedgerBackendError(LedgerError):
    exit_code = 7


class ImportDataError(ConsentryError):
    exit_code = 8


class SnapshotError(ConsentryError):
    """A snapshot that does not verify, or a record proof that does not lead to its root."""

    exit_code = 9


class SnapshotKeyError(SnapshotError):
    """The snapshot was pseudonymised with another key than the workspace's: none of its
    records can be re-derived here, so listing each of them as a problem would say nothing."""

    exit_code = 10


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
