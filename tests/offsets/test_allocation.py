"""The allocation tree of an aggregated retirement (docs/offsets.md), checked by hand: three people
share one retirement of 15 kg whose serials are two lots, 1001–1010 and 2001–2005."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from certificates.document import field_commitment
from offsets.allocation import (
    CHECKS,
    Allocation,
    AllocationError,
    AllocationTree,
    Purchase,
    allocate,
    check,
    overlaps,
)

RANGES = [[1001, 1010], [2001, 2005]]  # illustrative lots: 10 + 5 = 15 kg retired in one retireFor
# salted commitments of illustrative account numbers; the names never reach the tree
ALICE = field_commitment("account", "acct-0001", "salt-a")
BOB = field_commitment("account", "acct-0002", "salt-b")
CAROL = field_commitment("account", "acct-0003", "salt-c")
PURCHASES = [Purchase("p-1", ALICE, 4), Purchase("p-2", BOB, 6), Purchase("p-3", CAROL, 5)]


def _leaf(commitment: str, kg: int, first: int, last: int, pid: str) -> bytes:
    # canonical JSON written out by hand: keys sorted, no spaces
    text = (
        f'{{"account_commitment":"{commitment}","kg":{kg},"purchase_id":"{pid}",'
        f'"serial_first":{first},"serial_last":{last}}}'
    )
    return hashlib.sha256(b"\x00" + text.encode()).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _proof_json(tree: AllocationTree, pid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    a, p = tree.proof(pid)
    # through JSON, as a certificate carries them
    loaded: tuple[dict[str, Any], dict[str, Any]] = json.loads(json.dumps([a.as_json(), p.as_json()]))
    return loaded


def test_worked_example_serials_and_root() -> None:
    tree = allocate(PURCHASES, RANGES)
    # Alice 4 kg: 1001–1004; Bob 6 kg: 1005–1010 (the first lot is used up, 4 + 6 = 10);
    # Carol 5 kg: 2001–2005 (the second lot, exactly)
    assert [(a.purchase_id, a.serial_first, a.serial_last) for a in tree.allocations] == [
        ("p-1", 1001, 1004),
        ("p-2", 1005, 1010),
        ("p-3", 2001, 2005),
    ]
    l0 = _leaf(ALICE, 4, 1001, 1004, "p-1")
    l1 = _leaf(BOB, 6, 1005, 1010, "p-2")
    l2 = _leaf(CAROL, 5, 2001, 2005, "p-3")
    # RFC 9162 with 3 leaves splits at 2: root = H(1 ‖ H(1 ‖ l0 ‖ l1) ‖ l2)
    assert tree.root == _node(_node(l0, l1), l2)
    assert tree.claim_hash == "0x" + _node(_node(l0, l1), l2).hex()
    # Bob's path: his sibling Alice's leaf, then Carol's leaf
    _, proof = tree.proof("p-2")
    assert (proof.index, proof.size, list(proof.path)) == (1, 3, [l0, l2])
    # Carol's path: the hash of the left pair only
    _, proof = tree.proof("p-3")
    assert list(proof.path) == [_node(l0, l1)]


def test_every_person_checks_against_the_claim_hash() -> None:
    tree = allocate(PURCHASES, RANGES)
    for pid in ("p-1", "p-2", "p-3"):
        allocation, proof = _proof_json(tree, pid)
        assert check(allocation, proof, tree.claim_hash, RANGES) is None
        assert check(allocation, proof, tree.claim_hash.upper().replace("0X", "0x"), RANGES) is None


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        # 6 kg written as 7: the serials 1005–1010 still count 6
        (lambda a, p: a.update(kg=7), "kilograms"),
        # kg and the last serial raised together past the end of the first lot
        (lambda a, p: a.update(kg=7, serial_last=1011), "serials"),
        # shifted one serial down onto Alice's 1004: consistent and inside the range, so only the hash tells
        (lambda a, p: a.update(kg=6, serial_first=1004, serial_last=1009), "sibling hashes"),
        (lambda a, p: a.update(serial_first=1006), "kilograms"),
        (lambda a, p: a.update(serial_first=995, serial_last=1000), "serials"),
        (lambda a, p: a.update(account_commitment=ALICE), "sibling hashes"),
        (lambda a, p: a.update(account_commitment="Z" * 64), "account commitment"),
        (lambda a, p: a.update(purchase_id="p-9"), "sibling hashes"),
        (lambda a, p: p["path"].__setitem__(0, "00" * 32), "sibling hashes"),
        (lambda a, p: p["path"].reverse(), "sibling hashes"),
        (lambda a, p: p.update(index=0), "sibling hashes"),
        (lambda a, p: p.update(size=2), "sibling hashes"),
        (lambda a, p: p["path"].pop(), "sibling hashes"),
        (lambda a, p: a.pop("purchase_id"), "allocation"),
        (lambda a, p: a.update(kg=True), "kilograms"),
    ],
)
def test_tampering_names_the_failing_check(tamper: Any, named: str) -> None:
    tree = allocate(PURCHASES, RANGES)
    allocation, proof = _proof_json(tree, "p-2")
    tamper(allocation, proof)
    failure = check(allocation, proof, tree.claim_hash, RANGES)
    assert failure is not None
    assert failure.check == named, failure
    assert named in CHECKS


def test_another_retirements_claim_hash_or_range_fails() -> None:
    tree = allocate(PURCHASES, RANGES)
    allocation, proof = _proof_json(tree, "p-3")
    other = allocate([Purchase("p-3", CAROL, 5)], [[2001, 2005]])
    failure = check(allocation, proof, other.claim_hash, RANGES)
    assert failure is not None and failure.check == "sibling hashes"
    # the same allocation against a retirement whose serials are elsewhere
    failure = check(allocation, proof, tree.claim_hash, [[1001, 1010], [3001, 3005]])
    assert failure is not None and failure.check == "serials"
    assert "2001–2005" in failure.detail
    failure = check(allocation, proof, "0x1234", RANGES)
    assert failure is not None and failure.check == "sibling hashes"


def test_planted_overlap_is_refused() -> None:
    # Bob's 1005–1010 and a planted 1008–1012 for Carol share 1008, 1009, 1010
    planted = [
        Allocation(ALICE, 4, 1001, 1004, "p-1"),
        Allocation(BOB, 6, 1005, 1010, "p-2"),
        Allocation(CAROL, 5, 1008, 1012, "p-3"),
    ]
    with pytest.raises(AllocationError, match="'p-2' and 'p-3' claim the same serial"):
        AllocationTree(planted, [[1001, 1015]])
    assert overlaps(planted) == [("p-2", "p-3")]
    # the same kilogram given twice to one person's two purchases is refused too
    with pytest.raises(AllocationError, match="same serial"):
        AllocationTree(
            [Allocation(ALICE, 1, 1001, 1001, "p-1"), Allocation(ALICE, 1, 1001, 1001, "p-2")], [[1001, 1002]]
        )


def test_gaps_totals_and_duplicates_are_refused() -> None:
    with pytest.raises(AllocationError, match="cover 10 of the 15"):
        AllocationTree([Allocation(ALICE, 4, 1001, 1004, "p-1"), Allocation(BOB, 6, 1005, 1010, "p-2")], RANGES)
    with pytest.raises(AllocationError, match="outside the retired range"):
        AllocationTree([Allocation(ALICE, 5, 1006, 1010, "p-1"), Allocation(BOB, 5, 1011, 1015, "p-2")], [[1001, 1010]])
    with pytest.raises(AllocationError, match="allocated twice"):
        AllocationTree([Allocation(ALICE, 1, 1001, 1001, "p-1"), Allocation(BOB, 1, 1002, 1002, "p-1")], [[1001, 1002]])
    with pytest.raises(AllocationError, match="add up to 16 kg but the retired range holds 15"):
        allocate([*PURCHASES, Purchase("p-4", ALICE, 1)], RANGES)
    # 4 + 5 = 9 leaves 1 serial of the first lot; Carol's 6 would straddle 1010 → 2001
    with pytest.raises(AllocationError, match="straddle the gap after serial 1010"):
        allocate([Purchase("p-1", ALICE, 4), Purchase("p-2", BOB, 5), Purchase("p-3", CAROL, 6)], RANGES)
    with pytest.raises(AllocationError, match="kg must be a whole number"):
        allocate([Purchase("p-1", ALICE, 0), Purchase("p-2", BOB, 15)], RANGES)
    with pytest.raises(AllocationError, match="account commitment"):
        allocate([Purchase("p-1", "alice", 15)], RANGES)
    with pytest.raises(AllocationError, match=r"\[first, last\] pairs"):
        allocate(PURCHASES, [[1001, 1010], [1005, 1012]])


def test_a_single_purchase_is_its_own_root() -> None:
    tree = allocate([Purchase("p-1", ALICE, 15)], [[1, 15]])
    assert tree.root == _leaf(ALICE, 15, 1, 15, "p-1")
    allocation, proof = _proof_json(tree, "p-1")
    assert proof == {"index": 0, "size": 1, "path": []}
    assert check(allocation, proof, tree.claim_hash, [[1, 15]]) is None
