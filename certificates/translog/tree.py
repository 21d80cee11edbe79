"""Node-key arithmetic of the log's Merkle tree (RFC 9162), no I/O.

A node is a complete (perfect, aligned) subtree: (level, index) covers leaves
[index * 2**level, (index + 1) * 2**level). Its key in `log_nodes` is (level << 40) | index; a
level-0 key is the leaf index itself (the leaf hash lives in `log_entries`). So keys below 2**40
are leaves and the rest are inner nodes, and one integer names any node.

Every hash the log serves (a root, each element of an inclusion or consistency proof) is the
MTH of a leaf range [a, b) the RFC's recursion produces; such a range is always aligned so that
it splits greedily into perfect subtrees of decreasing size, and its MTH is the right fold of
their hashes: MTH = H(P1, H(P2, ... H(Pk-1, Pk))).
"""

from __future__ import annotations

SHIFT = 40
MASK = (1 << SHIFT) - 1
MAX_LEAVES = 1 << SHIFT


def key(level: int, index: int) -> int:
    return (level << SHIFT) | index


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect(a: int, b: int) -> list[int]:
    """The keys of the perfect subtrees [a, b) splits into, left to right (greedy: each the
    largest aligned subtree that starts at a and fits)."""
    keys = []
    while a < b:
        level = min((a & -a).bit_length() - 1 if a else 63, (b - a).bit_length() - 1)
        keys.append((level << SHIFT) | (a >> level))
        a += 1 << level
    return keys


def frontier(size: int, grow_to: int | None = None) -> list[int]:
    """The keys of the perfect subtrees of the tree of `size` leaves (what an append builds on),
    left to right; with `grow_to`, only those that appending up to `grow_to` leaves merges into a
    bigger subtree (a suffix: the lowest levels)."""
    keys = []
    s = size
    while s:
        level = s.bit_length() - 1
        s ^= 1 << level
        index = (size >> level) - 1
        if grow_to is None or (((index >> 1) + 1) << (level + 1)) <= grow_to:
            keys.append((level << SHIFT) | index)
    return keys


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PATH(index, D[size]), bottom-up."""
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs form PROOF(first, D[second]) (RFC 9162 section 2.1.4.1),
    in proof order; 0 < first <= second."""
    out: list[tuple[int, int]] = []
    lo, hi, complete = 0, second, True
    while first != hi:
        k = split(hi - lo)
        if first <= lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, complete = lo + k, False
    if not complete:
        out.append((lo, hi))
    out.reverse()
    return out
