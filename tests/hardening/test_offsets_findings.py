# ruff: noqa: F811  # the offsets fixtures are imported by name, and tests take them as parameters
"""Hostile tests of issue 19 (micro-offsets): two batchers racing on one database, operator input at
its bounds, one unprovable retirement. Each was seen failing before its fix (offsets/batcher.py,
runner.py, certify.py, scripts/offsets_commands.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlmodel import col

import offsets.batcher as batcher_module
from offsets.allocation import Purchase
from offsets.batcher import BatchError, tree_for
from offsets.certify import certify_retired
from offsets.models import OffsetPurchase, OffsetRetirement
from offsets.purchases import purchase, purchase_id_for
from tests.offsets.conftest import Platform, account, pg_platform, platform  # noqa: F401  # fixtures, found by name
from tests.offsets.test_certificates import _verdicts, api, issued  # noqa: F401  # fixtures, found by name
from tests.offsets.test_cli import _env, _ledger

ALICE = account("acct-0001", "salt-a")  # illustrative account numbers; only commitments are stored
BOB = account("acct-0002", "salt-b")


@pytest.mark.parametrize("db", ["platform", "pg_platform"])
def test_a_second_batcher_never_takes_a_claimed_purchase(
    db: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `ledger offsets run` processes: B reads the pending purchases, A claims the oldest and
    commits, then B writes its batch. Before the fix B's UPDATE moved Alice's purchase into B's
    retirement, leaving A's open retirement (whose claim hash commits to Alice's leaf) beside it:
    two open batches, one purchase named by two claim hashes, the same serials planned twice."""
    p: Platform = request.getfixturevalue(db)
    purchase(p.engine, ALICE, 4, "race-alice", now=1_000)
    purchase(p.engine, BOB, 6, "race-bob", now=1_001)
    first = p.batcher(max_purchases=1)  # process A: takes Alice only
    second = p.batcher(max_purchases=2)  # process B: Alice and Bob
    real_plan = batcher_module.plan
    refusals: list[str] = []

    def plan_while_a_forms(pending: Sequence[Purchase], lots: Sequence[tuple[int, int]], limit: int) -> list[Purchase]:
        if limit == 2 and not refusals:  # B has read the purchases; A forms meanwhile
            try:
                first.form()
            except BatchError as exc:  # PostgreSQL: B holds the forming lock, A is refused at once
                refusals.append(str(exc))
        return real_plan(pending, lots, limit)

    monkeypatch.setattr(batcher_module, "plan", plan_while_a_forms)
    try:
        second.form()
    except BatchError as exc:
        refusals.append(str(exc))
    # exactly one of the two was refused, saying why; the other's batch is whole
    assert len(refusals) == 1 and "another process" in refusals[0], refusals
    with p.engine.connect() as conn:
        owners = dict(conn.execute(select(col(OffsetPurchase.id), col(OffsetPurchase.retirement_op))).all())
        (op,) = conn.execute(select(col(OffsetRetirement.op_id))).scalars().all()
        tree, claim_hash = tree_for(conn, op)
    # one open retirement; every claimed purchase is in it, and its purchases rebuild its claim hash
    assert set(owners.values()) - {None} == {op}
    assert tree.claim_hash == claim_hash
    assert {a.purchase_id for a in tree.allocations} == {pid for pid, o in owners.items() if o == op}


@pytest.mark.parametrize("command", ["retire", "run"])
def test_a_huge_max_is_one_line(platform: Platform, command: str) -> None:
    """--max 10**20 (beyond a 64-bit SQL integer: the batcher asks for 4 × M rows) was a bug report
    ("unexpected OverflowError"); now one line naming the bound, nothing stored."""
    env = _env(platform)
    purchase(platform.engine, ALICE, 4, "huge-max")
    extra = ["--every", "1"] if command == "run" else []
    out = _ledger(
        env,
        "offsets",
        command,
        "--holder",
        platform.cast.holder.address,
        "--batch",
        str(platform.world.batch_id),
        "--max",
        str(10**20),
        *extra,
        ok=False,
    )
    assert "--max" in out and "unexpected" not in out and len(out.strip().splitlines()) == 1, out
    with platform.engine.connect() as conn:
        assert conn.execute(select(col(OffsetRetirement.op_id))).all() == []


@pytest.mark.parametrize(
    ("every", "poll"), [("1e10", "1e10"), ("inf", "inf"), ("5", "inf"), ("inf", "1"), ("nan", "1")]
)
def test_a_wait_beyond_the_clock_is_one_line(platform: Platform, every: str, poll: str) -> None:
    """`run --every 1e10 --poll 1e10` stepped once, then waited: Event.wait(1e10) is past the
    platform's time_t and raised "unexpected OverflowError" (inf alike); NaN polled in a busy loop.
    Now refused before starting, naming the option."""
    out = _ledger(
        _env(platform),
        "offsets",
        "run",
        "--holder",
        platform.cast.holder.address,
        "--batch",
        str(platform.world.batch_id),
        "--every",
        every,
        "--poll",
        poll,
        ok=False,
    )
    assert out.startswith("error:") and ("--every" in out or "--poll" in out), out
    assert len(out.strip().splitlines()) == 1, out


def test_one_unprovable_retirement_does_not_block_the_others(platform: Platform) -> None:
    """Units the holder moves outside the batcher while a batch is open make its retireFor consume
    other serials than planned (documented, docs/offsets.md §5), so its certificates are refused.
    Before the fix certify_retired raised on it first: no later retirement was ever certified, and
    `ledger offsets run` exited on every restart. Now it is named and set aside."""
    p = platform
    purchase(p.engine, ALICE, 4, "short-alice", now=1_000)
    batcher = p.batcher()
    assert batcher.form() is not None
    # the holder moves all but 2 kg away outside the batcher: the 4 kg retirement reverts
    p.world.client.transfer(
        p.cast.holder.address, p.cast.owner.address, p.world.batch_id, p.balance() - 2, sender=p.cast.holder
    )
    with pytest.raises(Exception):  # noqa: B017  # the revert, whatever the client calls it
        batcher.settle()
    # topped up: the re-send consumes the old lot's last 2 kg and 2 of the new lot, not the planned 4
    p.world.client.transfer(p.cast.owner.address, p.cast.holder.address, p.world.batch_id, 100, sender=p.cast.owner)
    assert batcher.run_once()[0].purchases == 1
    purchase(p.engine, BOB, 6, "later-bob", now=1_001)
    assert batcher.run_once()[0].purchases == 1
    # Bob's retirement is provable: his certificate is issued even though Alice's is refused
    refused: list[str] = []
    issued = certify_retired(p.service, refused=refused)
    # Alice's is named with the check it fails, and nothing of hers was issued
    assert len(refused) == 1 and "fails its serials check" in refused[0], refused
    with p.engine.connect() as conn:
        bob = conn.execute(select(col(OffsetPurchase.certificate_id)).where(col(OffsetPurchase.kg) == 6)).scalar_one()
    assert bob is not None and issued == [bob]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("leaf", "kg"), 2**70),
        (("leaf", "kg"), "1e3"),
        (("leaf", "kg"), 4.0),
        (("leaf", "kg"), None),
        (("leaf", "serial_first"), -1),
        (("leaf", "serial_last"), 2**63),
        (("leaf", "purchase_id"), "p\x00"),
        (("leaf", "account_commitment"), "A" * 64),
        (("proof", "index"), 2**64),
        (("proof", "size"), 0),
        (("proof", "path"), ["zz" * 32]),
        (("proof", "path"), ["00" * 32] * 65),
        (("proof", "path"), None),
        (("proof",), [1, 2]),
        (("leaf",), "not an object"),
    ],
)
def test_hostile_allocation_values_are_refused_not_crashed(
    issued: tuple[Platform, dict[str, str]], api: TestClient, path: tuple[str, ...], value: Any
) -> None:
    """Values no honest issuer writes, through `ledger verify`'s code, POST /api/v1/verify and the
    independent verifier: each an invalid verdict naming the retirements check, never a crash."""
    p, ids = issued
    doc = p.service.document(ids["pc-bob"])
    target = doc["certificate"]["allocation"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    for v in _verdicts(p, api, doc):
        assert v["verdict"] == "invalid", v
        assert "retirements" in v["failed"], v


def test_a_planted_overlap_is_refused_by_name_when_certifying(platform: Platform) -> None:
    """Carol's row moved onto Bob's last 3 serials in the store after retirement: `ledger offsets
    certify` said "unexpected AllocationError; this is a bug" and the run loop died on it. Now the
    retirement is refused naming the overlap, and nothing of it is certified."""
    p = platform
    for who, kg, key in ((ALICE, 4, "o-1"), (BOB, 6, "o-2"), (ALICE, 5, "o-3")):
        purchase(p.engine, who, kg, key)
    (settled,) = p.batcher().run_once()
    with p.engine.begin() as conn:
        tree, _ = tree_for(conn, hex(settled.op_id))
        bob = next(a for a in tree.allocations if a.purchase_id == purchase_id_for("o-2"))
        conn.execute(
            update(OffsetPurchase)
            .where(col(OffsetPurchase.id) == purchase_id_for("o-3"))
            .values(serial_first=bob.serial_last - 2, serial_last=bob.serial_last + 2)
        )
    out = _ledger(_env(p), "offsets", "certify", ok=False)
    assert "claim the same serial" in out and "unexpected" not in out, out
    with p.engine.connect() as conn:
        marked = conn.execute(
            select(col(OffsetPurchase.certificate_id)).where(col(OffsetPurchase.certificate_id).is_not(None))
        ).all()
    assert marked == []
