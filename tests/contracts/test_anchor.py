"""Certificate-log anchoring: sizes only grow; the on-chain RFC 9162 proof check."""

from __future__ import annotations

import pytest
from pymerkle import InmemoryTree

from chain import rfc9162
from chain.errors import RegistryRevertError
from tests.conftest import World


def entries(n: int) -> list[bytes]:
    return [f"certificate-{i}".encode() for i in range(n)]


def test_our_rfc9162_reference_agrees_with_pymerkle() -> None:
    for n in (1, 2, 3, 5, 8, 13):
        tree = InmemoryTree(algorithm="sha256")
        for e in entries(n):
            tree.append_entry(e)
        leaves = [rfc9162.leaf_hash(e) for e in entries(n)]
        assert tree.get_root() == rfc9162.root_of(leaves)
        for i in range(n):
            assert [
                bytes.fromhex(h) for h in tree.prove_inclusion(i + 1, n).serialize()["path"][1:]
            ] == rfc9162.inclusion_proof(i, leaves)


def test_anchored_tree_sizes_only_grow(world: World) -> None:
    c, anchorer = world.client, world.cast.anchorer
    c.anchor_log_root(5, b"\x05" * 32, sender=anchorer)
    assert c.latest_anchor() == (5, b"\x05" * 32)
    for size in (5, 4):
        with pytest.raises(RegistryRevertError) as refused:
            c.anchor_log_root(size, b"\x06" * 32, sender=anchorer)
        assert refused.value.name == "RegistryTreeSizeNotGrowing"
        assert refused.value.args_by_name == {"latest": 5, "given": size}
    c.anchor_log_root(9, b"\x09" * 32, sender=anchorer)
    assert (c.anchored_root(5), c.anchored_root(9), c.anchored_root(7)) == (b"\x05" * 32, b"\x09" * 32, b"\0" * 32)
    with pytest.raises(RegistryRevertError, match="RegistryZeroRoot"):
        c.anchor_log_root(10, b"\0" * 32, sender=anchorer)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 11])
def test_the_contract_accepts_every_valid_proof_and_rejects_any_flipped_bit(world: World, size: int) -> None:
    c = world.client
    leaves = [rfc9162.leaf_hash(e) for e in entries(size)]
    c.anchor_log_root(size, rfc9162.root_of(leaves), sender=world.cast.anchorer)
    index = size // 2
    proof = rfc9162.inclusion_proof(index, leaves)
    for i in range(size):
        assert c.verify_inclusion(size, i, leaves[i], rfc9162.inclusion_proof(i, leaves))
    assert rfc9162.root_from_inclusion_proof(index, size, leaves[index], proof) == rfc9162.root_of(leaves)
    for bit in range(0, 256, 37):  # a spread of bit positions in the leaf and in every proof node
        flipped_leaf = bytearray(leaves[index])
        flipped_leaf[bit // 8] ^= 1 << (bit % 8)
        assert not c.verify_inclusion(size, index, bytes(flipped_leaf), proof)
        for node in range(len(proof)):
            bad = [bytearray(p) for p in proof]
            bad[node][bit // 8] ^= 1 << (bit % 8)
            assert not c.verify_inclusion(size, index, leaves[index], [bytes(p) for p in bad])
    if size > 1:
        assert not c.verify_inclusion(size, index ^ 1, leaves[index], proof)  # wrong leaf index
        assert not c.verify_inclusion(size, index, leaves[index], proof[:-1])  # truncated proof
    assert not c.verify_inclusion(size + 1, index, leaves[index], proof)  # size never anchored
    assert not c.verify_inclusion(size, size, leaves[index], proof)  # index outside the tree
