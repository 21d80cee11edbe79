"""Purchases batched into one aggregated `retireFor` on a real anvil registry (docs/offsets.md §5):
three people's kilograms, one transaction, each person's serials provable against the on-chain
claim hash and the serials the mirror records for the retirement."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from chain.types import Scenario
from indexer.models import Lot, Retirement
from offsets.allocation import AllocationError, Purchase, check
from offsets.batcher import BatchError, batch_op_id, fifo_take, plan, tree_for
from offsets.models import OffsetPurchase, OffsetRetirement
from offsets.purchases import PurchaseError, purchase, purchase_id_for
from tests.offsets.conftest import Platform, account

ALICE = account("acct-0001", "salt-a")  # illustrative account numbers; only commitments are stored
BOB = account("acct-0002", "salt-b")
CAROL = account("acct-0003", "salt-c")


def _held(p: Platform) -> list[tuple[int, int]]:
    with p.engine.connect() as conn:
        rows = conn.execute(
            select(col(Lot.first_serial), col(Lot.last_serial))
            .where(col(Lot.holder) == p.cast.holder.address.lower(), col(Lot.state) == "held")
            .where(col(Lot.batch_id) == p.world.batch_id)
            .order_by(col(Lot.acquired))
        ).all()
    return [(int(a), int(b)) for a, b in rows]


def test_three_people_one_retirement(platform: Platform) -> None:
    p = platform
    start = p.balance()
    assert start == 20_000  # HOLDER_START in tests/conftest.py
    # bought one second apart: a batch takes the oldest first
    for at, (who, kg, key) in enumerate(((ALICE, 4, "k-alice"), (BOB, 6, "k-bob"), (CAROL, 5, "k-carol"))):
        assert purchase(p.engine, who, kg, key, now=1_000 + at).created
    p.service.catch_up(int(p.client.rpc.call("eth_blockNumber"), 16))
    (first, last), *_ = _held(p)
    (settled,) = p.batcher().run_once()
    assert settled.sent
    # 4 + 6 + 5 = 15 kg in ONE retireFor
    assert (settled.amount, settled.purchases) == (15, 3)
    assert p.balance() == start - 15
    assert p.batcher().run_once() == []  # nothing pending: nothing more retired
    assert p.balance() == start - 15

    p.service.catch_up(settled.block_number)
    with p.engine.connect() as conn:
        r = conn.execute(select(Retirement).where(col(Retirement.op_id) == hex(settled.op_id))).one()
        retired = [
            [int(a), int(b)]
            for a, b in conn.execute(
                select(col(Lot.first_serial), col(Lot.last_serial))
                .where(col(Lot.retirement_id) == r.id)
                .order_by(col(Lot.first_serial))
            )
        ]
        tree, claim_hash = tree_for(conn, hex(settled.op_id))
    assert r.scenario == Scenario.PERSONAL.name.title() or r.scenario.lower() == "personal"
    assert r.operator.lower() == p.cast.platform.address.lower()
    assert r.claim_hash == claim_hash == tree.claim_hash
    # the mirror's serials for the retirement are the ones the batcher predicted: the holder's
    # oldest 15 serials, first … first + 14
    assert retired == [[first, first + 14]] and last >= first + 14
    serials = {a.purchase_id: (a.serial_first, a.serial_last) for a in tree.allocations}
    assert serials == {
        purchase_id_for("k-alice"): (first, first + 3),  # 4 kg
        purchase_id_for("k-bob"): (first + 4, first + 9),  # 6 kg
        purchase_id_for("k-carol"): (first + 10, first + 14),  # 5 kg
    }
    for key in ("k-alice", "k-bob", "k-carol"):
        allocation, proof = tree.proof(purchase_id_for(key))
        assert check(allocation.as_json(), proof.as_json(), r.claim_hash, retired) is None
    assert settled.op_id == batch_op_id(p.client.chain_id, p.client.address, list(serials))
    gas = p.client.rpc.call("eth_getTransactionReceipt", settled.tx_hash)["gasUsed"]
    print(f"aggregated retireFor for 3 people: {int(gas, 16)} gas, {int(gas, 16) / 3:.0f} gas a person")


def test_a_repeated_idempotency_key_is_one_purchase(platform: Platform) -> None:
    p = platform
    first = purchase(p.engine, ALICE, 4, "k-repeat", now=1_000)
    again = purchase(p.engine, ALICE, 4, "k-repeat", now=2_000)
    assert first.created and not again.created
    assert again.purchase.id == first.purchase.id and again.purchase.created_at == 1_000
    with pytest.raises(PurchaseError, match=r"used for another purchase \(4 kg\); use a new key"):
        purchase(p.engine, ALICE, 5, "k-repeat")
    with pytest.raises(PurchaseError, match="used for another purchase"):
        purchase(p.engine, BOB, 4, "k-repeat")
    (settled,) = p.batcher().run_once()
    assert settled.amount == 4
    # a retry after the retirement still finds the first purchase, and nothing new is pending
    assert not purchase(p.engine, ALICE, 4, "k-repeat").created
    assert p.batcher().run_once() == []
    with p.engine.connect() as conn:
        rows = conn.execute(select(col(OffsetPurchase.retirement_op))).all()
        # the key itself is stored nowhere: only its hash
        keys = [k for (k,) in conn.execute(select(col(OffsetPurchase.key_hash)))]
    assert rows == [(hex(settled.op_id),)]
    assert "k-repeat" not in keys


@pytest.mark.parametrize(
    ("commitment", "kg", "key", "says"),
    [
        ("Alice", 4, "k", "64 lowercase hex"),
        (ALICE, 0, "k", "whole number of kilograms"),
        (ALICE, 2.5, "k", "whole number of kilograms"),
        (ALICE, 4, "", "idempotency key"),
        (ALICE, 4, "x" * 201, "idempotency key"),
    ],
)
def test_bad_purchases_are_refused_with_nothing_stored(
    platform: Platform, commitment: str, kg: int, key: str, says: str
) -> None:
    with pytest.raises(PurchaseError, match=says):
        purchase(platform.engine, commitment, kg, key)
    with platform.engine.connect() as conn:
        assert conn.execute(select(col(OffsetPurchase.id))).all() == []


def test_planted_overlap_in_the_store_is_refused(platform: Platform) -> None:
    p = platform
    for who, kg, key in ((ALICE, 4, "o-1"), (BOB, 6, "o-2"), (CAROL, 5, "o-3")):
        purchase(p.engine, who, kg, key)
    (settled,) = p.batcher().run_once()
    with p.engine.begin() as conn:
        tree, _ = tree_for(conn, hex(settled.op_id))
        bob = next(a for a in tree.allocations if a.purchase_id == purchase_id_for("o-2"))
        # Carol's row moved onto Bob's last 3 serials (and off her own last 3)
        conn.execute(
            update(OffsetPurchase)
            .where(col(OffsetPurchase.id) == purchase_id_for("o-3"))
            .values(serial_first=bob.serial_last - 2, serial_last=bob.serial_last + 2)
        )
    with p.engine.connect() as conn, pytest.raises(AllocationError, match="claim the same serial"):
        tree_for(conn, hex(settled.op_id))


def test_plan_skips_a_purchase_that_would_straddle_two_lots() -> None:
    # lots of 5 and 10 kg, oldest first: a's 3 fits; b's 4 would straddle (3 + 4 > 5) and waits for
    # a later batch; c's 2 fills the first lot (3 + 2 = 5); d's 4 fits the second
    pending = [Purchase("a", ALICE, 3), Purchase("b", BOB, 4), Purchase("c", CAROL, 2), Purchase("d", ALICE, 4)]
    chosen = plan(pending, [(101, 105), (201, 210)], limit=10)
    assert [c.purchase_id for c in chosen] == ["a", "c", "d"]
    assert fifo_take([(201, 210), (101, 105)], 12) == [(201, 210), (101, 102)]  # acquisition order, not serial
    assert plan(pending, [(101, 105)], limit=1) == [pending[0]]
    with pytest.raises(BatchError, match="too few units"):
        fifo_take([(1, 5)], 6)


def test_an_open_batch_blocks_a_new_one(platform: Platform) -> None:
    p = platform
    purchase(p.engine, ALICE, 4, "b-1")
    b = p.batcher()
    op_id = b.form()
    assert op_id is not None
    purchase(p.engine, BOB, 6, "b-2")
    with pytest.raises(BatchError, match="still open; settle it first"):
        b.form()
    settled = b.settle()
    assert [s.op_id for s in settled] == [op_id] and settled[0].amount == 4
    with p.engine.connect() as conn:
        stored = conn.execute(select(col(OffsetRetirement.ranges))).all()
    assert len(json.loads(stored[0][0])) == 1
