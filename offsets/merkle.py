"""Every RFC 9162 audit path of a tree at once, for trees of many thousand leaves: an allocation
tree of one aggregated retirement, or the first `size` leaves of the certificate log when many
documents are built together. `chain/rfc9162.inclusion_proof` recomputes the sibling subtrees for
each leaf (O(n) a proof, O(n²) a tree); here each subtree's hash is computed once and handed to
every leaf below its sibling, O(n log n) for the whole tree. Pure: no database, no node."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def root_and_paths(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """MTH(D[n]) and PATH(i, D[n]) for every i, bottom-up as RFC 9162 §2.1.3.1 writes them."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest(), []
    paths: list[list[bytes]] = [[] for _ in range(n)]
    return _walk(leaves, 0, n, paths), paths


def _walk(leaves: Sequence[bytes], a: int, b: int, paths: list[list[bytes]]) -> bytes:
    """MTH of leaves [a, b); appends each half's root to the paths of the other half's leaves. The
    recursion is at most 64 deep (the split halves the range), and a leaf's path grows from the
    bottom because the deeper call returns first."""
    if b - a == 1:
        return leaves[a]
    k = 1 << ((b - a - 1).bit_length() - 1)  # the largest power of two below b - a
    left = _walk(leaves, a, a + k, paths)
    right = _walk(leaves, a + k, b, paths)
    for i in range(a, a + k):
        paths[i].append(right)
    for i in range(a + k, b):
        paths[i].append(left)
    return hashlib.sha256(b"\x01" + left + right).digest()
