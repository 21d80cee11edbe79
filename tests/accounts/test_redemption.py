"""Redemption and reversal (accounts/rights.py): debits oldest expiry first, exactly once per
idempotency key, refusals that store nothing, the reversal window at its boundary, reversal by the
owning merchant only and once; on PostgreSQL, concurrent redemptions never oversell a stock nor
overspend a person."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from accounts import ledger, rights
from accounts.errors import ConflictError, InputError, NotFoundError
from accounts.ledger_models import ENTRIES, REDEMPTIONS
from accounts.people import delete_account
from accounts.sources import Principal
from indexer.db import make_engine
from tests.accounts.ledger_helpers import APP, DAY, OTHER_SHOP, SHOP, T0, credit, new_person, setup_sources, total


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Engine:
    """Each test on both paths: statement by statement (SQLite) and PostgreSQL's one statement."""
    engine: Engine = request.getfixturevalue("engine" if request.param == "sqlite" else "pg_engine")
    return engine


@pytest.fixture
def app(db: Engine) -> Principal:
    return setup_sources(db)


def _right(engine: Engine, *, stock: int = 5, price: int = 300, window: int = 600) -> rights.RightInfo:
    return rights.add_right(
        engine,
        SHOP,
        name="Metro day pass",
        kind="transit_credit",
        stock=stock,
        price=price,
        reversal_window=window,
        now=T0,
    )


def _redemptions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(REDEMPTIONS)).scalar_one())


def test_redeem_debits_oldest_points_and_credits_the_merchant(db: Engine, app: Principal) -> None:
    person = new_person(db, app)
    credit(db, person, 200, at=T0, expires_at=T0 + 20 * DAY, record="late")
    credit(db, person, 250, at=T0, expires_at=T0 + 10 * DAY, record="early")
    r = _right(db)
    red = rights.redeem(db, APP, person, r.id, "order-1", T0 + 60)
    assert (red.points, red.account_id, red.right_id, red.replayed) == (300, person, r.id, False)
    # 450 - 300 = 150 left: all 250 of the day-10 lot went first, then 50 of the day-20 lot
    assert ledger.balance(db, person, T0 + 60) == 150
    s = ledger.statement(db, person, T0 + 60)
    assert sorted((e.amount, e.expires_at) for e in s.entries if e.kind == "redeem") == [
        (-250, T0 + 10 * DAY),
        (-50, T0 + 20 * DAY),
    ]
    assert ledger.balance(db, f"merchant:{SHOP}", T0 + 60) == 300
    assert rights.get_right(db, r.id).stock == 4  # 5 - 1
    assert total(db) == 0 and ledger.audit(db) == []


def test_a_retry_returns_the_same_redemption_and_posts_nothing(db: Engine, app: Principal) -> None:
    person = new_person(db, app)
    credit(db, person, 1_000, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(db)
    first = rights.redeem(db, APP, person, r.id, "order-1", T0 + 1)
    again = rights.redeem(db, APP, person, r.id, "order-1", T0 + 99)
    assert again.id == first.id and again.created_at == T0 + 1 and again.replayed
    assert ledger.balance(db, person, T0 + 99) == 700  # 1,000 - 300 once
    assert rights.get_right(db, r.id).stock == 4 and _redemptions(db) == 1
    # the same key for another right is refused, naming the first redemption
    other = _right(db)
    with pytest.raises(
        ConflictError, match=f"idempotency key 'order-1' was used for another redemption \\({first.id}\\)"
    ):
        rights.redeem(db, APP, person, other.id, "order-1", T0 + 100)
    assert rights.get_right(db, other.id).stock == 5
    # a key is per source: another app may use the same string for its own redemption
    rights.redeem(db, "shop-two", person, r.id, "order-1", T0 + 101)
    assert _redemptions(db) == 2


def test_refusals_store_nothing(db: Engine, app: Principal) -> None:
    person = new_person(db, app)
    credit(db, person, 299, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(db, stock=1)
    with pytest.raises(
        ledger.InsufficientPointsError, match="holds 299 points at this time, 300 are needed"
    ) as refused:
        rights.redeem(db, APP, person, r.id, "k1", T0 + 1)
    assert refused.value.balance == 299
    assert rights.get_right(db, r.id).stock == 1  # the stock taken before the debit was rolled back
    assert _redemptions(db) == 0
    # the key was not used up by the refusal: with points enough, the same key redeems
    credit(db, person, 1, at=T0 + 2, expires_at=T0 + DAY, record="r2")
    assert rights.redeem(db, APP, person, r.id, "k1", T0 + 3).points == 300
    with pytest.raises(ConflictError, match=f"right {r.id} is out of stock"):
        rights.redeem(db, APP, person, r.id, "k2", T0 + 4)
    with pytest.raises(NotFoundError, match="no right 999"):
        rights.redeem(db, APP, person, 999, "k3", T0 + 4)
    with pytest.raises(NotFoundError, match="no account acc_nobody"):
        rights.redeem(db, APP, "acc_nobody", r.id, "k4", T0 + 4)
    with pytest.raises(InputError, match="idempotency key is 1 to 100 printable ASCII"):
        rights.redeem(db, APP, person, r.id, "", T0 + 4)
    assert _redemptions(db) == 1 and total(db) == 0


def test_a_deleted_account_redeems_nothing(db: Engine, app: Principal) -> None:
    person = new_person(db, app)
    credit(db, person, 500, at=T0, expires_at=T0 + DAY, record="r1")
    delete_account(db, person, T0 + 1)
    with pytest.raises(ConflictError, match="is deleted"):
        rights.redeem(db, APP, person, _right(db).id, "k1", T0 + 2)


def test_reversal_window_boundary(db: Engine, app: Principal) -> None:
    person = new_person(db, app)
    credit(db, person, 1_000, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(db, window=600)
    late = rights.redeem(db, APP, person, r.id, "k1", T0 + 100)
    on_time = rights.redeem(db, APP, person, r.id, "k2", T0 + 100)
    # redeemed at T0 + 100 with a 600 s window: reversible up to T0 + 699, not at T0 + 700
    with pytest.raises(ConflictError, match=f"its window of 600 s closed at {T0 + 700}"):
        rights.reverse(db, SHOP, late.id, T0 + 700)
    back = rights.reverse(db, SHOP, on_time.id, T0 + 699)
    assert back.reversed_at == T0 + 699
    assert ledger.balance(db, person, T0 + 700) == 700  # 1,000 - 300 - 300 + 300
    assert rights.get_right(db, r.id).stock == 4  # 5 - 2 + 1
    with pytest.raises(ConflictError, match="was reversed already"):
        rights.reverse(db, SHOP, on_time.id, T0 + 699)
    assert total(db) == 0 and ledger.audit(db) == []


def test_reversal_by_another_merchant_is_refused(db: Engine, app: Principal) -> None:
    person = new_person(db, app)
    credit(db, person, 1_000, at=T0, expires_at=T0 + DAY, record="r1")
    red = rights.redeem(db, APP, person, _right(db).id, "k1", T0 + 1)
    with pytest.raises(rights.NotYoursError, match="is of another merchant's right; only that merchant may reverse it"):
        rights.reverse(db, OTHER_SHOP, red.id, T0 + 2)
    with pytest.raises(rights.NotYoursError):
        rights.reverse(db, APP, red.id, T0 + 2)  # nor the app that redeemed
    assert rights.get_redemption(db, red.id).reversed_at is None
    assert ledger.balance(db, person, T0 + 2) == 700


def test_reversed_points_keep_their_original_expiry(db: Engine, app: Principal) -> None:
    person = new_person(db, app)
    credit(db, person, 100, at=T0, expires_at=T0 + 1_000, record="soon")
    credit(db, person, 500, at=T0, expires_at=T0 + DAY, record="later")
    r = _right(db, window=3_600)
    red = rights.redeem(db, APP, person, r.id, "k1", T0 + 10)  # takes 100 (lapsing T0+1000) + 200 (T0+DAY)
    rights.reverse(db, SHOP, red.id, T0 + 500)
    s = ledger.statement(db, person, T0 + 500)
    assert sorted((e.amount, e.expires_at) for e in s.entries if e.kind == "reverse") == [
        (100, T0 + 1_000),
        (200, T0 + DAY),
    ]
    assert ledger.balance(db, person, T0 + 999) == 600  # all back
    assert ledger.balance(db, person, T0 + 1_000) == 500  # the 100 lapse when they always would have
    # reversed after its lot lapsed, a point comes back already lapsed: the sweep expires it
    # k2 at T0 + 999 takes the 100 that k1's reversal gave back (lapsing T0 + 1,000), then 200 lapsing T0 + DAY
    red2 = rights.redeem(db, APP, person, r.id, "k2", T0 + 999)
    rights.reverse(db, SHOP, red2.id, T0 + 1_500)
    # reversed after their lapse, those 100 come back already lapsed: 600 - 300 + 300 - 100 = 500
    assert ledger.balance(db, person, T0 + 1_500) == 500
    assert ledger.expire_due(db, T0 + 1_500) == 1  # one lot: the 100 k2's reversal gave back
    assert ledger.balance(db, "expired", T0 + 1_500) == 100
    assert total(db) == 0 and ledger.audit(db) == []


# --- PostgreSQL: concurrency ---------------------------------------------------------------------


def _race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..n-1) in n threads released together; each outcome or the exception it raised."""
    gate = threading.Barrier(n)

    def run(i: int) -> Any:
        gate.wait()
        try:
            return work(i)
        except Exception as exc:  # the outcome under test, counted by the caller
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _wide(pg_engine: Engine) -> Engine:
    """A pool of 50 connections: each thread redeems on its own connection; the test server allows
    100 connections shared with other tests, so 100 at once could be refused for want of slots."""
    return make_engine(pg_engine.url.render_as_string(hide_password=False), pool_size=50, max_overflow=0)


def test_100_concurrent_redemptions_of_stock_10_give_exactly_10(pg_engine: Engine) -> None:
    app = setup_sources(pg_engine)
    people = [new_person(pg_engine, app) for _ in range(100)]
    for i, p in enumerate(people):
        credit(pg_engine, p, 1_000, at=T0, expires_at=T0 + DAY, record=f"r{i}")
    r = _right(pg_engine, stock=10, price=300)
    engine = _wide(pg_engine)
    try:
        outcomes = _race(100, lambda i: rights.redeem(engine, APP, people[i], r.id, f"order-{i}", T0 + 1))
    finally:
        engine.dispose()
    won = [o for o in outcomes if isinstance(o, rights.RedemptionInfo)]
    lost = Counter(str(o) for o in outcomes if not isinstance(o, rights.RedemptionInfo))
    assert len(won) == 10, lost.most_common(3)
    assert lost == {f"right {r.id} is out of stock; choose another right or try when the merchant restocks": 90}
    assert rights.get_right(pg_engine, r.id).stock == 0
    with pg_engine.connect() as conn:
        debits = conn.execute(
            select(func.count(func.distinct(ENTRIES.c.txn))).where(ENTRIES.c.kind == "redeem", ENTRIES.c.amount < 0)
        ).scalar_one()
    assert debits == 10 and _redemptions(pg_engine) == 10
    assert ledger.balance(pg_engine, f"merchant:{SHOP}", T0 + 1) == 3_000  # 10 × 300
    assert sum(ledger.balance(pg_engine, p, T0 + 1) for p in people) == 100 * 1_000 - 3_000
    assert total(pg_engine) == 0 and ledger.audit(pg_engine) == []


def test_concurrent_redemptions_never_overspend_one_person(pg_engine: Engine) -> None:
    app = setup_sources(pg_engine)
    person = new_person(pg_engine, app)
    credit(pg_engine, person, 400, at=T0, expires_at=T0 + DAY, record="a")
    credit(pg_engine, person, 600, at=T0, expires_at=T0 + 2 * DAY, record="b")
    r = _right(pg_engine, stock=100, price=300)
    engine = _wide(pg_engine)
    try:
        outcomes = _race(20, lambda i: rights.redeem(engine, APP, person, r.id, f"order-{i}", T0 + 1))
    finally:
        engine.dispose()
    # 1,000 points buy 3 at 300 (900), leaving 100: the other 17 are refused, none goes below zero
    assert sum(isinstance(o, rights.RedemptionInfo) for o in outcomes) == 3
    assert sum(isinstance(o, ledger.InsufficientPointsError) for o in outcomes) == 17
    assert ledger.balance(pg_engine, person, T0 + 1) == 100
    assert rights.get_right(pg_engine, r.id).stock == 97
    assert ledger.audit(pg_engine) == []


def test_concurrent_retries_of_one_key_redeem_once(pg_engine: Engine) -> None:
    app = setup_sources(pg_engine)
    person = new_person(pg_engine, app)
    credit(pg_engine, person, 10_000, at=T0, expires_at=T0 + DAY, record="a")
    r = _right(pg_engine, stock=1, price=300)
    engine = _wide(pg_engine)
    try:
        outcomes = _race(10, lambda i: rights.redeem(engine, APP, person, r.id, "same-order", T0 + 1))
    finally:
        engine.dispose()
    # the first takes the only unit; the other nine answer with its redemption, not "out of stock"
    assert all(isinstance(o, rights.RedemptionInfo) for o in outcomes), outcomes
    assert len({o.id for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    assert ledger.balance(pg_engine, person, T0 + 1) == 9_700 and _redemptions(pg_engine) == 1
