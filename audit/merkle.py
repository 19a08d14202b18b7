"""The Merkle tree of RFC 9162 (Certificate Transparency v2), section 2.1.

Pure functions, no storage: the log (``audit.log``) keeps the hash of every *perfect*
subtree (``2**level`` leaves starting at ``index * 2**level``) and asks this module
which of them a root or a proof needs. Any range that RFC 9162's recursion visits,
``D[start:end]``, splits left to right into perfect subtrees of decreasing size, and its
hash (MTH) is the right fold of theirs; so a proof at any tree size costs one query for
at most a few dozen stored hashes, however large the log.

    leaf hash      SHA-256(0x00 || leaf bytes)
    interior node  SHA-256(0x01 || left || right)
    empty tree     SHA-256("")
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

Node = tuple[int, int]  # (level, index): the perfect subtree of 2**level leaves at index

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees that make up ``D[start:end]``, largest first, for a range
    RFC 9162's recursion visits (``start`` is a multiple of a power of two at least
    ``end - start``)."""
    out = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)
        if start % size:
            raise ValueError(f"range [{start}, {end}) is not one the tree's recursion visits")
        out.append((size.bit_length() - 1, start // size))
        start += size
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees (largest first): a right fold."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH make up PATH(index, D[0:size]), innermost first."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    out: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start += k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose MTH make up PROOF(first, D[0:second]), innermost first."""
    if not 0 < first <= second:
        raise ValueError("a consistency proof needs 0 < first <= second")
    out: list[tuple[int, int]] = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        out.append((start, end))
    out.reverse()
    return out


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    return {node for start, end in ranges for node in perfect_nodes(start, end)}


def range_hashes(ranges: Sequence[tuple[int, int]], stored: Mapping[Node, bytes]) -> list[bytes]:
    return [fold([stored[node] for node in perfect_nodes(s, e)]) for s, e in ranges]


class Frontier:
    """The right edge of a growing tree: one perfect subtree per set bit of its size.
    Appending a leaf completes zero or more perfect subtrees, which the caller stores."""

    __slots__ = ("size", "stack")

    def __init__(self, size: int = 0, stack: Sequence[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self.stack = list(stack)  # (level, hash), largest first

    @staticmethod
    def nodes(size: int) -> list[Node]:
        """The perfect subtrees of a tree of ``size`` leaves, largest first."""
        return perfect_nodes(0, size)

    def append(self, leaf: bytes, completed: list[tuple[int, int, bytes]] | None) -> None:
        """Add a leaf hash; each perfect subtree of level >= 1 it completes is appended
        to ``completed`` as ``(level, index, hash)``."""
        stack, index, level, current = self.stack, self.size, 0, leaf
        sha256 = hashlib.sha256
        while stack and stack[-1][0] == level:
            current = sha256(b"\x01" + stack.pop()[1] + current).digest()
            level += 1
            index >>= 1
            if completed is not None:
                completed.append((level, index, current))
        stack.append((level, current))
        self.size += 1

    def root(self) -> bytes:
        return fold([h for _, h in self.stack])
