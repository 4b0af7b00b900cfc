"""Many short values hashed with one key or prefix.

Keying BLAKE2b, or feeding SHA-256 a fixed prefix, costs a whole compression for every value;
copying a state already keyed or fed is cheaper, and for short values (ids, leaf data) that is
a large part of the work. hashlib has no batch interface, so this is the loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol


class HashState(Protocol):
    def copy(self) -> HashState: ...

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


def digests(state: HashState, values: Iterable[bytes]) -> Iterator[bytes]:
    """The digest of each value, each hashed from a copy of ``state``."""
    for value in values:
        h = state.copy()
        h.update(value)
        yield h.digest()
