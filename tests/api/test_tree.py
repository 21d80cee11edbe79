"""The node-key arithmetic of certificates/translog/tree.py, directly: against literal values and against the
RFC 9162 reference in chain/rfc9162.py (the SQL log's own tests only see it through whole proofs)."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certificates.translog import tree
from chain import rfc9162 as ref

LEAVES = [ref.leaf_hash(f"entry {i}".encode()) for i in range(70)]


@cache
def mth(a: int, b: int) -> bytes:
    """The reference MTH of the leaf range [a, b)."""
    return ref.root_of(LEAVES[a:b])


def node_range(key: int) -> tuple[int, int]:
    """The leaf range a node key names, decoded with the layout the docstring states."""
    level, index = key >> tree.SHIFT, key & tree.MASK
    return index << level, (index + 1) << level


def fold(keys: list[int]) -> bytes:
    """H(P1, H(P2, ... H(Pk-1, Pk))): how the log composes a range's MTH from its perfect subtrees."""
    hashes = [mth(*node_range(k)) for k in keys]
    out = hashes[-1]
    for h in reversed(hashes[:-1]):
        out = ref.node_hash(h, out)
    return out


def test_the_key_layout_is_level_above_bit_40_and_index_below() -> None:
    # the keys are stored in log_nodes: this layout is an on-disk format, not a detail
    assert (tree.SHIFT, tree.MASK, tree.MAX_LEAVES) == (40, 2**40 - 1, 2**40)
    assert tree.key(0, 5) == 5
    assert tree.key(1, 0) == 2**40
    assert tree.key(3, 7) == 3 * 2**40 + 7
    assert tree.key(2, tree.MASK) == 2 * 2**40 + 2**40 - 1
    last_leaf = tree.key(0, tree.MAX_LEAVES - 1)
    assert last_leaf == tree.MASK  # every leaf index fits below the first inner-node key
    assert tree.key(1, 0) == tree.MASK + 1


@pytest.mark.parametrize(("n", "expected"), [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (2**40 + 1, 2**40)])
def test_split_is_the_largest_power_of_two_below_n(n: int, expected: int) -> None:
    assert tree.split(n) == expected


def test_split_matches_the_reference_for_every_small_n() -> None:
    assert [tree.split(n) for n in range(2, 300)] == [ref._split(n) for n in range(2, 300)]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0, 0, []),
        (3, 3, []),
        (0, 1, [0]),
        (6, 7, [6]),
        (0, 2, [2**40]),
        (0, 8, [3 * 2**40]),
        (0, 7, [2 * 2**40, 2**40 + 2, 6]),
        (5, 13, [5, 2**40 + 3, 2 * 2**40 + 2, 12]),
        (4, 8, [2 * 2**40 + 1]),
        (4, 6, [2**40 + 2]),
        (1, 8, [1, 2**40 + 1, 2 * 2**40 + 1]),
    ],
)
def test_perfect_splits_a_range_greedily_into_aligned_subtrees(a: int, b: int, expected: list[int]) -> None:
    assert tree.perfect(a, b) == expected


def test_perfect_caps_the_level_at_63_when_the_range_starts_at_0() -> None:
    # a == 0 is aligned to every level: the cap stands in for its infinite trailing zeros
    assert tree.perfect(0, 2**63) == [63 << tree.SHIFT]
    assert tree.perfect(0, 2**64) == [63 << tree.SHIFT, (63 << tree.SHIFT) | 1]


@settings(max_examples=300, deadline=None)
@given(a=st.integers(0, tree.MAX_LEAVES - 2**12), width=st.integers(0, 2**12))  # keys name leaves < 2**40
def test_perfect_covers_the_range_with_the_largest_aligned_subtrees(a: int, width: int) -> None:
    b = a + width
    keys = tree.perfect(a, b)
    at = a
    for k in keys:
        lo, hi = node_range(k)
        assert lo == at, "contiguous, left to right"
        size = hi - lo
        assert lo % size == 0, "aligned"
        # greedy: the next size up is either misaligned at `lo` or does not fit
        assert lo % (2 * size) != 0 or lo + 2 * size > b
        at = hi
    assert at == b


def test_every_range_of_a_proof_is_the_fold_of_its_perfect_subtrees() -> None:
    for size in range(1, 41):
        ranges = {r for i in range(size) for r in tree.inclusion_ranges(i, size)}
        ranges |= {r for first in range(1, size + 1) for r in tree.consistency_ranges(first, size)}
        ranges.add((0, size))
        for a, b in ranges:
            assert fold(tree.perfect(a, b)) == mth(a, b), (a, b)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, []),
        (1, [0]),
        (2, [2**40]),
        (6, [2 * 2**40, 2**40 + 2]),
        (7, [2 * 2**40, 2**40 + 2, 6]),
        (8, [3 * 2**40]),
    ],
)
def test_frontier_lists_the_maximal_perfect_subtrees(size: int, expected: list[int]) -> None:
    assert tree.frontier(size) == expected
    assert tree.frontier(size) == tree.perfect(0, size)


@pytest.mark.parametrize(
    ("size", "grow_to", "expected"),
    [
        (7, 8, [2 * 2**40, 2**40 + 2, 6]),
        (7, 7, []),
        (6, 7, []),
        (5, 6, [4]),
        (5, 8, [2 * 2**40, 4]),
        (3, 4, [2**40, 2]),
        (3, 5, [2**40, 2]),
        (4, 7, []),
        (4, 8, [2 * 2**40]),
        (1, 2, [0]),
    ],
)
def test_frontier_with_grow_to_lists_the_subtrees_the_append_merges(
    size: int, grow_to: int, expected: list[int]
) -> None:
    assert tree.frontier(size, grow_to) == expected


def test_frontier_with_grow_to_is_what_stops_being_maximal() -> None:
    for size in range(40):
        for grow_to in range(size, 70):
            merged = [k for k in tree.frontier(size) if k not in tree.frontier(grow_to)]
            assert tree.frontier(size, grow_to) == merged, (size, grow_to)


@pytest.mark.parametrize(
    ("index", "size", "expected"),
    [
        (0, 1, []),
        (0, 2, [(1, 2)]),
        (1, 2, [(0, 1)]),
        (2, 7, [(3, 4), (0, 2), (4, 7)]),
        (6, 7, [(4, 6), (0, 4)]),
        (5, 8, [(4, 5), (6, 8), (0, 4)]),
    ],
)
def test_inclusion_ranges_literal(index: int, size: int, expected: list[tuple[int, int]]) -> None:
    assert tree.inclusion_ranges(index, size) == expected


def test_inclusion_ranges_give_the_reference_audit_paths() -> None:
    for size in range(1, 41):
        for index in range(size):
            got = [mth(a, b) for a, b in tree.inclusion_ranges(index, size)]
            assert got == ref.inclusion_proof(index, LEAVES[:size]), (index, size)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (1, 1, []),
        (5, 5, []),
        (1, 2, [(1, 2)]),
        (2, 3, [(2, 3)]),
        (3, 7, [(2, 3), (3, 4), (0, 2), (4, 7)]),
        (4, 8, [(4, 8)]),
        (6, 8, [(4, 6), (6, 8), (0, 4)]),
    ],
)
def test_consistency_ranges_literal(first: int, second: int, expected: list[tuple[int, int]]) -> None:
    assert tree.consistency_ranges(first, second) == expected


def test_consistency_ranges_give_the_reference_proofs() -> None:
    for second in range(1, 41):
        for first in range(1, second + 1):
            got = [mth(a, b) for a, b in tree.consistency_ranges(first, second)]
            assert got == ref.consistency_proof(first, LEAVES[:second]), (first, second)
            first_root, second_root = mth(0, first), mth(0, second)
            assert ref.verify_consistency(first, second, first_root, second_root, got)
