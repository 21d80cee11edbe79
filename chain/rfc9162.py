"""RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing with sha256: the reference the
registry contract's on-chain proof check follows. Pure functions; small trees only (the
certificate log itself keeps its nodes in SQL)."""

from __future__ import annotations

import hashlib


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: list[bytes]) -> bytes:
    """MTH over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def inclusion_proof(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf `index`, bottom-up."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return inclusion_proof(index, leaves[:k]) + [root_of(leaves[k:])]
    return inclusion_proof(index - k, leaves[k:]) + [root_of(leaves[:k])]


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2; None when the proof does not fit the tree."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: list[bytes], root: bytes) -> bool:
    """Whether `proof` shows leaf `leaf_hash` at `index` in the tree of `size` leaves with `root`."""
    if index < 0 or size < 1:
        return False
    return root_from_inclusion_proof(index, size, leaf_hash, list(proof)) == root


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_of(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [root_of(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [root_of(leaves[:k])]


def consistency_proof(first: int, leaves: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 section 2.1.4.1: that the tree of the first `first` leaves is a
    prefix of the tree of all `leaves`. Empty when first == len(leaves)."""
    n = len(leaves)
    if not 1 <= first <= n:
        raise ValueError(f"no consistency proof from size {first} to size {n}: need 1 <= first <= second")
    return _subproof(first, leaves, True)


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: whether `proof` shows the tree of `first` leaves with `first_root`
    to be a prefix of the tree of `second` leaves with `second_root`."""
    if not 1 <= first <= second:
        return False
    if first == second:
        return first_root == second_root and not proof
    path = list(proof)
    if not path:
        return False
    if first & (first - 1) == 0:  # an exact power of two: the first tree is itself a node of the second
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
