"""Group commit (accounts/redeem_batch.py): `redeem_many` applies many redemptions in one
transaction with each request's own outcome, exactly once per idempotency key, never beyond the
stock or the person's points; `RedemptionBatcher` puts concurrent callers through it. On SQLite and
PostgreSQL; the concurrency tests on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from accounts import ledger, rights
from accounts.errors import ConflictError, InputError, NotFoundError
from accounts.ledger_models import REDEMPTIONS
from accounts.redeem_batch import RedeemRequest, RedemptionBatcher, redeem_many
from accounts.sources import Principal
from indexer.db import make_engine
from tests.accounts.ledger_helpers import APP, DAY, SHOP, T0, credit, new_person, setup_sources, total


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Engine:
    found: Engine = request.getfixturevalue("engine" if request.param == "sqlite" else "pg_engine")
    return found


@pytest.fixture
def app(db: Engine) -> Principal:
    return setup_sources(db)


def _right(engine: Engine, *, stock: int = 5, price: int = 300) -> rights.RightInfo:
    return rights.add_right(
        engine,
        SHOP,
        name="Metro day pass",
        kind="transit_credit",
        stock=stock,
        price=price,
        reversal_window=600,
        now=T0,
    )


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(REDEMPTIONS)).scalar_one())


def _req(account: str, right_id: int, key: str, now: int = T0 + 1) -> RedeemRequest:
    return RedeemRequest(APP, account, right_id, key, now)


def test_a_batch_redeems_each_key_once_and_its_retry_posts_nothing(db: Engine, app: Principal) -> None:
    alice, bob = new_person(db, app), new_person(db, app)
    credit(db, alice, 250, at=T0, expires_at=T0 + 10 * DAY, record="a1")
    credit(db, alice, 500, at=T0, expires_at=T0 + 20 * DAY, record="a2")
    credit(db, bob, 300, at=T0, expires_at=T0 + DAY, record="b1")
    r = _right(db)
    batch = [_req(alice, r.id, "a-1"), _req(bob, r.id, "b-1"), _req(alice, r.id, "a-2"), _req(alice, r.id, "a-1")]
    out = redeem_many(db, batch)
    assert [type(o).__name__ for o in out] == ["RedemptionInfo"] * 4
    assert [o.replayed for o in out if isinstance(o, rights.RedemptionInfo)] == [False, False, False, True]
    assert out[3] == out[0].__class__(**{**out[0].__dict__, "replayed": True})  # the same key is one redemption
    # alice: 750 - 300 - 300 = 150; her first 300 took all 250 of day 10, then 50 of day 20
    assert ledger.balance(db, alice, T0 + 1) == 150 and ledger.balance(db, bob, T0 + 1) == 0
    s = ledger.statement(db, alice, T0 + 1)
    assert sorted((e.amount, e.expires_at) for e in s.entries if e.kind == "redeem") == [
        (-300, T0 + 20 * DAY),
        (-250, T0 + 10 * DAY),
        (-50, T0 + 20 * DAY),
    ]
    assert rights.get_right(db, r.id).stock == 2 and _count(db) == 3  # 5 - 3
    again = redeem_many(db, batch)  # the whole batch retried: every answer a replay, nothing new
    assert all(isinstance(o, rights.RedemptionInfo) and o.replayed for o in again)
    assert [o.id for o in again if isinstance(o, rights.RedemptionInfo)] == [
        o.id for o in out if isinstance(o, rights.RedemptionInfo)
    ]
    assert rights.get_right(db, r.id).stock == 2 and _count(db) == 3
    assert ledger.balance(db, f"merchant:{SHOP}", T0 + 1) == 900  # 3 × 300
    assert total(db) == 0 and ledger.audit(db) == []


def test_a_refusal_inside_a_batch_does_not_fail_the_others(db: Engine, app: Principal) -> None:
    rich, poor = new_person(db, app), new_person(db, app)
    credit(db, rich, 10_000, at=T0, expires_at=T0 + DAY, record="r1")
    credit(db, poor, 299, at=T0, expires_at=T0 + DAY, record="p1")
    one = _right(db, stock=1)
    gone = _right(db)
    rights.withdraw(db, SHOP, gone.id, T0)
    batch = [
        _req(rich, one.id, "k1"),  # takes the only unit
        _req(poor, one.id, "k2"),  # out of stock (named before too few points, as rights.redeem does)
        _req(poor, _right(db).id, "k3"),  # 299 < 300
        _req(rich, gone.id, "k4"),  # withdrawn
        _req(rich, 999, "k5"),  # no such right
        _req("acc_nobody", one.id, "k6"),  # no such account
        _req(rich, one.id, ""),  # malformed key
        _req(rich, one.id + 2, "k7"),  # fine: the third right, 300 points
    ]
    out = redeem_many(db, batch)
    assert isinstance(out[0], rights.RedemptionInfo) and isinstance(out[7], rights.RedemptionInfo)
    assert str(out[1]) == f"right {one.id} is out of stock; choose another right or try when the merchant restocks"
    assert isinstance(out[2], ledger.InsufficientPointsError) and out[2].balance == 299
    assert isinstance(out[3], ConflictError) and "is withdrawn" in str(out[3])
    assert isinstance(out[4], NotFoundError) and "no right 999" in str(out[4])
    assert isinstance(out[5], NotFoundError) and "no account acc_nobody" in str(out[5])
    assert isinstance(out[6], InputError)
    # 10,000 - 300 - 300 = 9,400; the refused stored nothing and their keys stay usable
    assert ledger.balance(db, rich, T0 + 1) == 9_400 and ledger.balance(db, poor, T0 + 1) == 299
    assert _count(db) == 2
    credit(db, poor, 1, at=T0 + 2, expires_at=T0 + DAY, record="p2")
    assert rights.redeem(db, APP, poor, one.id + 2, "k3", T0 + 3).points == 300  # k3, refused before, now redeems
    assert total(db) == 0 and ledger.audit(db) == []


def test_points_spent_earlier_in_a_batch_are_gone_for_the_later_requests(db: Engine, app: Principal) -> None:
    person = new_person(db, app)
    credit(db, person, 700, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(db, stock=10)
    out = redeem_many(db, [_req(person, r.id, f"k{i}") for i in range(3)])
    # 700 pays for two at 300 (600); the third sees the 100 left
    assert [type(o).__name__ for o in out] == ["RedemptionInfo", "RedemptionInfo", "InsufficientPointsError"]
    assert "holds 100 points at this time, 300 are needed" in str(out[2])
    assert ledger.balance(db, person, T0 + 1) == 100 and rights.get_right(db, r.id).stock == 8
    assert ledger.audit(db) == []


# --- PostgreSQL: concurrency ---------------------------------------------------------------------


def _wide(pg_engine: Engine) -> Engine:
    return make_engine(pg_engine.url.render_as_string(hide_password=False), pool_size=40, max_overflow=0)


def _race(n: int, work: Any) -> list[Any]:
    gate = threading.Barrier(n)

    def run(i: int) -> Any:
        gate.wait()
        try:
            return work(i)
        except Exception as exc:  # the outcome under test, counted by the caller
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_100_concurrent_callers_of_stock_10_through_the_batcher_and_alone_give_exactly_10(pg_engine: Engine) -> None:
    """Half the callers go through the batcher (two workers, so batches overlap each other), half
    through rights.redeem at the same time: the lock order is the same, so no deadlock, and the
    stock of 10 sells exactly 10."""
    app = setup_sources(pg_engine)
    people = [new_person(pg_engine, app) for _ in range(100)]
    for i, p in enumerate(people):
        credit(pg_engine, p, 1_000, at=T0, expires_at=T0 + DAY, record=f"r{i}")
    r = _right(pg_engine, stock=10)
    engine = _wide(pg_engine)
    batcher = RedemptionBatcher(engine, workers=2, max_batch=16)
    try:

        def one(i: int) -> rights.RedemptionInfo:
            if i % 2:
                return rights.redeem(engine, APP, people[i], r.id, f"order-{i}", T0 + 1)
            return batcher.redeem(APP, people[i], r.id, f"order-{i}", T0 + 1)

        outcomes = _race(100, one)
    finally:
        batcher.close()
        engine.dispose()
    won = [o for o in outcomes if isinstance(o, rights.RedemptionInfo)]
    lost = Counter(str(o) for o in outcomes if not isinstance(o, rights.RedemptionInfo))
    assert len(won) == 10, lost.most_common(3)
    assert lost == {f"right {r.id} is out of stock; choose another right or try when the merchant restocks": 90}
    assert rights.get_right(pg_engine, r.id).stock == 0 and _count(pg_engine) == 10
    # answered only after the commit: each answer is there for any other connection to read
    assert {rights.get_redemption(pg_engine, o.id).id for o in won} == {o.id for o in won}
    assert ledger.balance(pg_engine, f"merchant:{SHOP}", T0 + 1) == 3_000  # 10 × 300
    assert total(pg_engine) == 0 and ledger.audit(pg_engine) == []


def test_concurrent_retries_of_one_key_through_the_batcher_redeem_once(pg_engine: Engine) -> None:
    app = setup_sources(pg_engine)
    person = new_person(pg_engine, app)
    credit(pg_engine, person, 10_000, at=T0, expires_at=T0 + DAY, record="a")
    r = _right(pg_engine, stock=1)
    engine = _wide(pg_engine)
    batcher = RedemptionBatcher(engine, workers=3, max_batch=4)
    try:
        outcomes = _race(20, lambda i: batcher.redeem(APP, person, r.id, "same-order", T0 + 1))
    finally:
        batcher.close()
        engine.dispose()
    assert all(isinstance(o, rights.RedemptionInfo) for o in outcomes), outcomes
    assert len({o.id for o in outcomes}) == 1 and sum(not o.replayed for o in outcomes) == 1
    assert ledger.balance(pg_engine, person, T0 + 1) == 9_700 and _count(pg_engine) == 1
    assert ledger.audit(pg_engine) == []


def test_a_batch_that_fails_whole_is_raised_to_each_of_its_callers(tmp_path: Any) -> None:
    """A database without the accounts' tables: the batch's transaction fails as a whole; every
    caller gets that failure (none waits forever, none is told it redeemed) and the batcher goes on."""
    bare = make_engine(f"sqlite:///{tmp_path / 'bare.sqlite'}")
    batcher = RedemptionBatcher(bare, workers=1, max_batch=8)
    try:
        outcomes = _race(6, lambda i: batcher.redeem(APP, f"acc_{i}", 1, f"k{i}", T0))
        assert all("no such table" in str(o) for o in outcomes), outcomes
        with pytest.raises(InputError, match="idempotency key"):  # a refusal of one request is still its own
            batcher.redeem(APP, "acc_1", 1, "", T0)
    finally:
        batcher.close()
        bare.dispose()


_CRASH = textwrap.dedent(
    """
    import sys, time
    from accounts import redeem_batch
    from indexer.db import make_engine
    url, right_id, now, accounts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    write_pg, write_steps = redeem_batch._Writes.write_pg, redeem_batch._Writes.write_steps

    def then_hang(write):
        def run(self, conn):
            write(self, conn)
            print("written, not committed", flush=True)
            time.sleep(600)
        return run

    redeem_batch._Writes.write_pg = then_hang(write_pg)
    redeem_batch._Writes.write_steps = then_hang(write_steps)
    requests = [redeem_batch.RedeemRequest("green-app", a, right_id, f"k{i}", now) for i, a in enumerate(accounts)]
    redeem_batch.redeem_many(make_engine(url), requests)
    """
)


def test_a_batch_killed_before_its_commit_leaves_nothing(db: Engine, app: Principal) -> None:
    """kill -9 after every write of a batch, before its commit: no redemption, no debit, the stock
    whole, no lock left, and every key redeems afresh afterwards."""
    people = [new_person(db, app) for _ in range(3)]
    for i, p in enumerate(people):
        credit(db, p, 1_000, at=T0, expires_at=T0 + DAY, record=f"r{i}")
    r = _right(db, stock=2)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASH, db.url.render_as_string(hide_password=False), str(r.id), str(T0 + 1), *people],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        cwd=root,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().strip() == "written, not committed", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while True:  # PostgreSQL rolls the dead client's transaction back once it sees the socket close
        try:
            out = redeem_many(db, [_req(p, r.id, f"k{i}", T0 + 2) for i, p in enumerate(people)])
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    # stock 2: the first two redeem now, not as replays of the killed batch; the third is refused
    assert [getattr(o, "replayed", None) for o in out] == [False, False, None]
    assert "out of stock" in str(out[2])
    assert _count(db) == 2 and rights.get_right(db, r.id).stock == 0
    assert [ledger.balance(db, p, T0 + 2) for p in people] == [700, 700, 1_000]
    assert total(db) == 0 and ledger.audit(db) == []
