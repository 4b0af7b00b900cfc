"""Merkle tree of RFC 6962 (Certificate Transparency): leaf = SHA-256(0x00 ‖ data),
node = SHA-256(0x01 ‖ left ‖ right), the left subtree of n leaves holding the largest power of
two below n.

Written by hand rather than with ``pymerkle``: the builder needs the root of millions of leaves
streamed batch by batch in O(log n) memory, and proofs recomputed from shards, where a tree of
Python node objects would cost seconds per million leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from consentry.hashing import sha256_pieces

EMPTY_ROOT = hashlib.sha256(b"").digest()

#: Bytes of a hash: a run of leaves is passed around joined, ``HASH`` bytes a leaf.
HASH: Final = 32


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def joined(leaf_hashes: bytes | bytearray | Iterable[bytes]) -> bytes:
    """Leaf hashes as one buffer, ``HASH`` bytes each, whether given joined or one by one."""
    if isinstance(leaf_hashes, bytes | bytearray):
        if len(leaf_hashes) % HASH:
            raise ValueError(f"{len(leaf_hashes)} bytes are not whole {HASH}-byte hashes")
        return bytes(leaf_hashes)
    return b"".join(leaf_hashes)


def _perfect_root(level: bytes) -> bytes:
    """Root of a perfect subtree (a power-of-two number of joined leaf hashes), built level by
    level: each level's 64-byte pairs hashed in one call."""
    while len(level) > HASH:
        level = sha256_pieces(b"\x01", level, 2 * HASH)
    return level


#: Leaves per block that a worker roots on its own (2^16): blocks start at multiples of their
#: size in the whole tree, so a block's root is one of the tree's subtrees wherever its shard
#: starts, and the workers' blocks are folded by one process with few hashes left to do.
BLOCK_HEIGHT: Final = 16


@dataclass(frozen=True, slots=True)
class Pieces:
    """The leaves from position ``start`` of a tree as ``StreamingRoot.add_pieces`` takes
    them: the loose leaves up to the first whole block, the roots of the whole blocks, the loose
    leaves after the last one (leaves joined)."""

    start: int
    head: bytes
    blocks: list[bytes]
    tail: bytes

    @property
    def count(self) -> int:
        return (len(self.head) + len(self.tail)) // HASH + (len(self.blocks) << BLOCK_HEIGHT)


class PiecesBuilder:
    """``Pieces`` of the leaves from position ``start`` on, given a run at a time: each block
    is rooted once its last leaf comes, so only the leaves of an unfinished block are held."""

    def __init__(self, start: int) -> None:
        self.start = start
        self._head: bytes | None = None  # set once the first block boundary is reached
        self._blocks: list[bytes] = []
        self._loose = b""  # the leaves since the last boundary (or since start)
        self._at = start  # the position of the first loose leaf

    def add(self, leaf_hashes: bytes | bytearray | Iterable[bytes]) -> None:
        run = self._loose + joined(leaf_hashes)
        count = len(run) // HASH
        size = 1 << BLOCK_HEIGHT
        first = -self._at % size  # leaves before the next boundary (0 once past one)
        if first >= count and first > 0:
            self._loose = run
            return
        if self._head is None:
            self._head = run[: first * HASH]
        done = first
        while done + size <= count:
            self._blocks.append(_perfect_root(run[done * HASH : (done + size) * HASH]))
            done += size
        self._loose = run[done * HASH :]
        self._at += done

    def finish(self) -> Pieces:
        if self._head is None:  # no boundary reached: every leaf is loose before a block
            return Pieces(self.start, self._loose, [], b"")
        return Pieces(self.start, self._head, self._blocks, self._loose)


def pieces(leaf_hashes: bytes | bytearray | Iterable[bytes], start: int) -> Pieces:
    """``leaf_hashes``, the leaves from position ``start`` on, cut into ``Pieces``."""
    builder = PiecesBuilder(start)
    builder.add(leaf_hashes)
    return builder.finish()


@dataclass
class StreamingRoot:
    """Root of a growing tree, keeping one subtree root per set bit of the leaf count."""

    count: int = 0
    _stack: list[tuple[int, bytes]] = field(default_factory=list)  # (height, hash)

    def add_leaves(self, leaf_hashes: bytes | bytearray | Iterable[bytes]) -> None:
        """Add leaves in order (joined, or one by one). A batch is cut into the largest
        perfect subtrees that the count so far allows (a subtree of 2^k leaves may start only
        at a multiple of 2^k), each built level by level and pushed as one stack entry: the
        same tree, hence the same root, as adding the leaves one by one."""
        leaves = joined(leaf_hashes)
        total = len(leaves) // HASH
        done = 0
        while done < total:
            left = total - done
            aligned = self.count & -self.count if self.count else left
            size = 1 << (min(aligned, left).bit_length() - 1)
            subtree = leaves[done * HASH : (done + size) * HASH]
            self._push(size.bit_length() - 1, _perfect_root(subtree))
            done += size
            self.count += size

    def add_pieces(self, p: Pieces) -> None:
        """Add the leaves ``p`` holds: the same tree as adding them one by one (a block is
        pushed as the subtree it is, at a count its size divides)."""
        if p.start != self.count:
            raise ValueError(f"pieces from leaf {p.start} added to a tree of {self.count}")
        self.add_leaves(p.head)
        for block in p.blocks:
            self._push(BLOCK_HEIGHT, block)
            self.count += 1 << BLOCK_HEIGHT
        self.add_leaves(p.tail)

    def _push(self, height: int, h: bytes) -> None:
        stack = self._stack
        while stack and stack[-1][0] == height:
            h = node_hash(stack.pop()[1], h)
            height += 1
        stack.append((height, h))

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            acc = node_hash(h, acc)
        return acc


def root_of(leaf_hashes: bytes | Sequence[bytes]) -> bytes:
    tree = StreamingRoot()
    tree.add_leaves(leaf_hashes)
    return tree.root()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def audit_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]): the sibling hashes from leaf ``index`` up to the root."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} outside a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _largest_power_of_two_below(len(leaves))
    if index < k:
        return [*audit_path(leaves[:k], index), root_of(leaves[k:])]
    return [*audit_path(leaves[k:], index - k), root_of(leaves[:k])]


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """Recompute the root from a leaf hash and its audit path (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} outside a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("audit path too long")
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("audit path too short")
    return r
