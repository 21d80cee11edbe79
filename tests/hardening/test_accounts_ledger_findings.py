"""Hostile use of the points ledger and the rights exchange (issue 18: accounts/ledger.py,
accounts/rights.py) as an app, a merchant, an operator and a crash would. The tests marked
"Failed before its fix" each failed first; the others pin an attack that the code already held
(a kill -9 mid-redemption, a reversal raced against itself, redemption, reversal, correction and
the expiry sweep of one person at once), so a later change cannot lose it."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update

from accounts import ledger, rights
from accounts.errors import AccountsError, ConflictError
from accounts.ledger_models import ENTRIES, LOTS, REDEMPTIONS, RIGHTS
from indexer.db import make_engine
from tests.accounts.conftest import _data_key, engine, pg_engine  # noqa: F401  # fixtures
from tests.accounts.ledger_helpers import APP, DAY, SHOP, T0, credit, new_person, setup_sources, total

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lite(request: pytest.FixtureRequest) -> Engine:
    """A fresh SQLite database with every migration (tests/accounts/conftest.py `engine`)."""
    found: Engine = request.getfixturevalue("engine")
    return found


@pytest.fixture
def pg(request: pytest.FixtureRequest) -> Engine:
    """A new PostgreSQL database of its own (tests/accounts/conftest.py `pg_engine`)."""
    found: Engine = request.getfixturevalue("pg_engine")
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Engine:
    found: Engine = request.getfixturevalue("engine" if request.param == "sqlite" else "pg_engine")
    return found


def _right(lite: Engine, *, stock: int = 5, price: int = 100, window: int = 600) -> rights.RightInfo:
    return rights.add_right(
        lite, SHOP, name="Bus ride", kind="transit_credit", stock=stock, price=price, reversal_window=window, now=T0
    )


def _post(lite: Engine, txn: str, postings: list[ledger.Posting], now: int = T0) -> None:
    with lite.begin() as conn:
        ledger.post(conn, txn, "credit", txn, postings, now)


# --- ids from outside the database's ranges --------------------------------------------------


@pytest.mark.parametrize(
    ("label", "call"),
    [
        ("a right id past bigint", lambda e, p, r: rights.redeem(e, APP, p, 2**63, "k1", T0 + 1)),
        ("an account id with NUL", lambda e, p, r: rights.redeem(e, APP, "acc_\x00x", r, "k1", T0 + 1)),
        ("get_right past bigint", lambda e, p, r: rights.get_right(e, 2**63)),
        ("set_stock past bigint", lambda e, p, r: rights.set_stock(e, SHOP, 2**63, 1, T0 + 1)),
        ("withdraw past bigint", lambda e, p, r: rights.withdraw(e, SHOP, 2**63, T0 + 1)),
        ("a statement cursor past bigint", lambda e, p, r: ledger.statement(e, p, T0, before=2**63)),
        ("a redemption id with NUL", lambda e, p, r: rights.get_redemption(e, "red_\x00")),
        ("a reversal of a redemption id with NUL", lambda e, p, r: rights.reverse(e, SHOP, "red_\x00", T0 + 1)),
    ],
)
def test_ids_the_database_cannot_hold_are_refused_in_one_line(
    db: Engine, label: str, call: Callable[[Engine, str, int], Any]
) -> None:
    """Failed before its fix: on PostgreSQL each reached the driver and raised DataError ("bigint
    out of range", "text fields cannot contain NUL"), a 5xx at an edge, not a refusal."""
    person = new_person(db, setup_sources(db))
    credit(db, person, 1_000, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(db)
    with pytest.raises(AccountsError) as refused:
        call(db, person, r.id)
    assert "\n" not in str(refused.value) and "\x00" not in str(refused.value), label
    assert rights.get_right(db, r.id).stock == 5 and ledger.balance(db, person, T0 + 1) == 1_000


# --- post: only whole points, never past ten years ---------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [1.5, True, 2**70],
    ids=["float", "bool", "past bigint"],
)
def test_post_takes_only_whole_points_within_range(db: Engine, amount: Any) -> None:
    """Failed before its fix: 1.5 and -1.5 balance, so post took them (PostgreSQL rounded both to
    2, SQLite stored 1.5 as a REAL); True balanced -True; 2**70 reached the driver (DataError)."""
    person = new_person(db, setup_sources(db))
    with pytest.raises(ledger.UnbalancedError, match="whole number of points"):
        _post(
            db,
            "credit:odd",
            [ledger.Posting(f"source:{APP}", -amount), ledger.Posting(ledger.person(person), amount, T0 + DAY)],
        )
    assert total(db) == 0 and ledger.balance(db, person, T0) == 0


def test_post_refuses_a_credit_that_outlives_ten_years(db: Engine) -> None:
    """Failed before its fix: a credit lapsing in 100 years was stored, past the Shenzhen 10-year
    limit (research next_wave.md §2.3) that expiry_for enforces. At the limit itself it is taken:
    credited at T0, 3,652 days = 315,532,800 s later."""
    person = new_person(db, setup_sources(db))
    limit = T0 + ledger.MAX_VALID_DAYS * DAY
    with pytest.raises(ledger.UnbalancedError, match="more than 10 years"):
        _post(
            db,
            "credit:long",
            [ledger.Posting(f"source:{APP}", -5), ledger.Posting(ledger.person(person), 5, limit + 1)],
        )
    _post(db, "credit:ten", [ledger.Posting(f"source:{APP}", -5), ledger.Posting(ledger.person(person), 5, limit)])
    assert ledger.balance(db, person, limit - 1) == 5 and ledger.balance(db, person, limit) == 0


# --- the audit sees what the derived tables and the redemptions could hide ----------------------


def test_audit_catches_a_lot_without_a_credit_behind_it(lite: Engine) -> None:
    """Failed before its fix: the audit walked the person credits and joined their lots, so a lot
    inserted by hand (no entry, or pointing at the merchant's entry) raised a balance unseen."""
    person = new_person(lite, setup_sources(lite))
    credit(lite, person, 100, at=T0, expires_at=T0 + DAY, record="r1")
    with lite.connect() as conn:
        source_entry = conn.execute(select(ENTRIES.c.id).where(ENTRIES.c.amount < 0)).scalar_one()
    with lite.begin() as conn:
        conn.execute(
            insert(LOTS),
            [
                {"entry_id": 999_999, "account": ledger.person(person), "expires_at": T0 + DAY, "remaining": 5_000},
                {"entry_id": source_entry, "account": ledger.person(person), "expires_at": T0 + DAY, "remaining": 7},
            ],
        )
    assert ledger.balance(lite, person, T0) == 5_107  # what a forged lot does: 100 + 5,000 + 7
    problems = ledger.audit(lite)
    assert "lot 999999 has no positive entry of its person behind it" in problems
    assert f"lot {source_entry} has no positive entry of its person behind it" in problems


def test_audit_catches_a_lot_moved_to_another_person(lite: Engine) -> None:
    """Failed before its fix: the audit compared a lot's remainder and expiry with its entry, not
    its account, so points moved from Alice's lot to Bob's by an UPDATE left no trace."""
    app = setup_sources(lite)
    alice, bob = new_person(lite, app), new_person(lite, app)
    credit(lite, alice, 100, at=T0, expires_at=T0 + DAY, record="r1")
    with lite.begin() as conn:
        conn.execute(update(LOTS).values(account=ledger.person(bob)))
    assert (ledger.balance(lite, alice, T0), ledger.balance(lite, bob, T0)) == (0, 100)
    problems = ledger.audit(lite)
    assert any(p.endswith(f"belongs to person:{bob}; its entry credits person:{alice}") for p in problems), problems


def test_audit_catches_a_credit_posted_twice(lite: Engine) -> None:
    """Failed before its fix: post leaves the retry check to its caller; a caller that posted the
    same credit twice wrote a transaction that still sums to zero, and the audit said nothing."""
    person = new_person(lite, setup_sources(lite))
    credit(lite, person, 100, at=T0, expires_at=T0 + DAY, record="r1")
    credit(lite, person, 100, at=T0 + 5, expires_at=T0 + DAY, record="r1")
    assert ledger.balance(lite, person, T0 + 5) == 200
    assert ledger.audit(lite) == ["r1 is credited to a person 2 times; a behaviour earns once"]


def test_audit_catches_a_redemption_row_that_disagrees_with_its_entries(lite: Engine) -> None:
    """Failed before its fix: a redemption's points, or a reversed_at without a reversal, were
    never compared with the ledger, so a merchant statement built on redemptions could lie."""
    person = new_person(lite, setup_sources(lite))
    credit(lite, person, 1_000, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(lite)
    one = rights.redeem(lite, APP, person, r.id, "k1", T0 + 1)
    two = rights.redeem(lite, APP, person, r.id, "k2", T0 + 1)
    three = rights.redeem(lite, APP, person, r.id, "k3", T0 + 1)
    rights.reverse(lite, SHOP, three.id, T0 + 2)
    assert ledger.audit(lite) == []
    with lite.begin() as conn:
        conn.execute(update(REDEMPTIONS).where(REDEMPTIONS.c.id == one.id).values(points=1))
        conn.execute(update(REDEMPTIONS).where(REDEMPTIONS.c.id == two.id).values(reversed_at=T0 + 3))
        conn.execute(delete(ENTRIES).where(ENTRIES.c.txn == f"reverse:{three.id}"))
    problems = ledger.audit(lite)
    assert f"redemption {one.id} says 1 points; its transaction redeem:{one.id} paid the merchant 100" in problems
    assert f"redemption {two.id} says reversed; its transaction reverse:{two.id} gave back 0" in problems
    assert f"redemption {three.id} says reversed; its transaction reverse:{three.id} gave back 0" in problems


# --- attacks the code held (pinned) ---------------------------------------------------------------


def test_redeeming_at_the_exact_lapse_of_the_points(db: Engine) -> None:
    """Held: 100 points lapsing at L buy a 100-point right at L - 1, not at L, on both paths."""
    person = new_person(db, setup_sources(db))
    lapse = T0 + DAY
    credit(db, person, 100, at=T0, expires_at=lapse, record="r1")
    credit(db, person, 100, at=T0, expires_at=lapse, record="r2")
    r = _right(db)
    with pytest.raises(ledger.InsufficientPointsError, match="holds 0 points at this time, 100 are needed"):
        rights.redeem(db, APP, person, r.id, "late", lapse)
    assert rights.redeem(db, APP, person, r.id, "on-time", lapse - 1).points == 100
    assert rights.get_right(db, r.id).stock == 4  # only the one on time took a unit
    assert ledger.expire_due(db, lapse) == 1  # the other lot's 100 lapse; the spent one has nothing left
    assert total(db) == 0 and ledger.audit(db) == []


def test_a_reversal_raced_against_itself_reverses_once(pg: Engine) -> None:
    """Held: the redemption's row lock serialises them; the second sees reversed_at and is refused."""
    person = new_person(pg, setup_sources(pg))
    credit(pg, person, 1_000, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(pg)
    red = rights.redeem(pg, APP, person, r.id, "k1", T0 + 1)
    gate = threading.Barrier(8)

    def undo(_: int) -> object:
        gate.wait()
        try:
            return rights.reverse(pg, SHOP, red.id, T0 + 2)
        except ConflictError as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(undo, range(8)))
    assert sum(isinstance(o, rights.RedemptionInfo) for o in outcomes) == 1
    assert all("was reversed already" in str(o) for o in outcomes if isinstance(o, ConflictError))
    assert ledger.balance(pg, person, T0 + 2) == 1_000 and rights.get_right(pg, r.id).stock == 5
    assert total(pg) == 0 and ledger.audit(pg) == []


def test_redeem_reverse_correct_and_sweep_of_one_person_at_once(pg: Engine) -> None:
    """Held: on PostgreSQL, 40 redemptions, their reversals, negative corrections and expiry sweeps
    of one person, all at once, with half the points lapsing mid-run: no deadlock, the person never
    below zero, every transaction balanced and every lot's remainder what its entries say.

    The person holds 2,000 points lapsing at T0 + 100 and 2,000 at T0 + DAY. Whatever interleaving
    happens, at the end: points in (4,000) = held + redeemed net of reversals + corrected + expired."""
    app = setup_sources(pg)
    person = new_person(pg, app)
    credit(pg, person, 2_000, at=T0, expires_at=T0 + 100, record="soon")
    credit(pg, person, 2_000, at=T0, expires_at=T0 + DAY, record="later")
    r = _right(pg, stock=1_000, price=90, window=3_600)
    wide = make_engine(pg.url.render_as_string(hide_password=False), pool_size=24, max_overflow=0)
    made: list[str] = []
    failures: list[BaseException] = []

    def job(i: int) -> None:
        at = T0 + 50 + i * 3  # from T0 + 50 to T0 + 167: the first lot lapses mid-run
        try:
            if i % 4 == 0:
                ledger.expire_due(wide, at)
            elif i % 4 == 1:
                ledger.correct(wide, person, -7, f"race {i}", at)
            else:
                red = rights.redeem(wide, APP, person, r.id, f"k{i}", at)
                made.append(red.id)
                if i % 3 == 0:
                    rights.reverse(wide, SHOP, red.id, at + 1)
        except (ledger.InsufficientPointsError, ConflictError):
            pass
        except BaseException as exc:  # a deadlock or a driver error: the finding this test would be
            failures.append(exc)

    try:
        with ThreadPoolExecutor(24) as pool:
            list(pool.map(job, range(40)))
    finally:
        wide.dispose()
    assert failures == [] and made
    ledger.expire_due(pg, T0 + 200)
    held = ledger.balance(pg, person, T0 + 200)
    merchant = ledger.balance(pg, f"merchant:{SHOP}", T0 + 200)
    corrected = ledger.balance(pg, "operator", T0 + 200)
    expired = ledger.balance(pg, "expired", T0 + 200)
    assert held >= 0 and held + merchant + corrected + expired == 4_000
    with pg.connect() as conn:
        live = conn.execute(select(func.count()).where(REDEMPTIONS.c.reversed_at.is_(None))).scalar_one()
        stock = conn.execute(select(RIGHTS.c.stock).where(RIGHTS.c.id == r.id)).scalar_one()
    assert merchant == 90 * live and stock == 1_000 - live
    assert total(pg) == 0 and ledger.audit(pg) == []


_CRASH = textwrap.dedent(
    """
    import sys, time
    from accounts import rights
    from indexer.db import make_engine
    url, account, right_id, now = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    lite = make_engine(url)

    with lite.begin() as conn:
        if conn.dialect.name == "postgresql":
            rights._redeem_pg(conn, rights._new_id(), "green-app", "crash", account, right_id, now)
        else:
            rights._redeem_steps(conn, rights._new_id(), "green-app", "crash", account, right_id, now)
        print("applied, not committed", flush=True)
        time.sleep(600)
    """
)


def test_a_redemption_killed_before_its_commit_leaves_nothing(db: Engine, tmp_path: Path) -> None:
    """Held: a process killed with SIGKILL while its redemption is written but not committed
    leaves no redemption, no debit, the stock whole, no lock held, and the key free for the retry."""
    person = new_person(db, setup_sources(db))
    credit(db, person, 1_000, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(db, stock=1)
    url = db.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASH, url, person, str(r.id), str(T0 + 1)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "applied, not committed", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while True:  # PostgreSQL rolls the dead client's transaction back once it sees the socket close
        try:
            red = rights.redeem(db, APP, person, r.id, "crash", T0 + 2)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert not red.replayed and red.points == 100
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(REDEMPTIONS)).scalar_one() == 1
    assert rights.get_right(db, r.id).stock == 0 and ledger.balance(db, person, T0 + 2) == 900
    assert total(db) == 0 and ledger.audit(db) == []


# --- SQLite (the default database): a read before the first write was outside the transaction ----


def _together(n: int, work: Callable[[int], object]) -> list[object]:
    """work(0..n-1) in n threads released at once; each outcome, or the refusal it raised."""
    gate = threading.Barrier(n)

    def run(i: int) -> object:
        gate.wait()
        try:
            return work(i)
        except AccountsError as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _undo(db: Engine, redemption_id: str, _: int) -> object:
    return rights.reverse(db, SHOP, redemption_id, T0 + 2)


def test_a_reversal_raced_against_itself_reverses_once_on_sqlite(lite: Engine) -> None:
    """Failed before its fix: pysqlite opens its transaction at the first INSERT/UPDATE, so the
    reversal read reversed_at outside it; 8 threads at once reversed one redemption up to 8 times
    (15 of 20 rounds), each giving the points and a unit of stock back again."""
    person = new_person(lite, setup_sources(lite))
    credit(lite, person, 10_000, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(lite, stock=100)
    for k in range(5):
        red = rights.redeem(lite, APP, person, r.id, f"k{k}", T0 + 1)
        outcomes = _together(8, functools.partial(_undo, lite, red.id))
        assert sum(isinstance(o, rights.RedemptionInfo) for o in outcomes) == 1, outcomes
    # 5 redeemed at 100 and 5 reversed: the balance and the stock are where they started
    assert ledger.balance(lite, person, T0 + 2) == 10_000 and rights.get_right(lite, r.id).stock == 100
    assert total(lite) == 0 and ledger.audit(lite) == []


def test_concurrent_corrections_never_spend_below_zero_on_sqlite(lite: Engine) -> None:
    """Failed before its fix: the debit read the lots outside its transaction, so 8 corrections of
    -40 against 100 points took 160 (4 succeeded) and left a lot at -60. Now 100 pays for two."""
    person = new_person(lite, setup_sources(lite))
    credit(lite, person, 100, at=T0, expires_at=T0 + DAY, record="r1")
    outcomes = _together(8, lambda i: ledger.correct(lite, person, -40, f"race {i}", T0 + 1))
    assert sum(isinstance(o, str) for o in outcomes) == 2  # 2 × 40 = 80 of 100; the 20 left pay for none
    assert sum(isinstance(o, ledger.InsufficientPointsError) for o in outcomes) == 6
    assert ledger.balance(lite, person, T0 + 1) == 20
    assert total(lite) == 0 and ledger.audit(lite) == []


def test_concurrent_sweeps_expire_each_lot_once_on_sqlite(lite: Engine) -> None:
    """Failed before its fix: each sweep read the lapsed lots outside its transaction, so sweeps at
    once expired a lot more than once. 20 lots of 10 + i points: 10 + … + 29 = 390 lapse, once."""
    app = setup_sources(lite)
    for i in range(20):
        credit(lite, new_person(lite, app), 10 + i, at=T0, expires_at=T0 + DAY, record=f"r{i}")
    counts = _together(6, lambda _: ledger.expire_due(lite, T0 + DAY))
    assert sum(c for c in counts if isinstance(c, int)) == 20
    assert ledger.balance(lite, "expired", T0 + DAY) == 390
    assert total(lite) == 0 and ledger.audit(lite) == []


# --- the operator's correction and the statement name a real account -----------------------------


def test_a_correction_of_an_account_that_does_not_exist_is_refused(db: Engine) -> None:
    """Failed before its fix: `ledger accounts correct acc_typo 500 …` minted 500 points into a
    lot of an account nobody holds (and an id with NUL reached PostgreSQL as a DataError)."""
    setup_sources(db)
    with pytest.raises(AccountsError, match="no account acc_typo") as refused:
        ledger.correct(db, "acc_typo", 500, "goodwill", T0)
    assert "\n" not in str(refused.value)
    with pytest.raises(AccountsError, match="account is an id acc_"):
        ledger.correct(db, "acc_\x00", 500, "goodwill", T0)
    assert total(db) == 0 and ledger.balance(db, "acc_typo", T0) == 0 and ledger.balance(db, "operator", T0) == 0


def test_a_statement_of_an_id_with_nul_is_refused_in_one_line(db: Engine) -> None:
    """Failed before its fix: on PostgreSQL the id reached the driver (DataError: text fields
    cannot contain NUL), a 5xx at the edge."""
    with pytest.raises(AccountsError, match="account is a ledger account") as refused:
        ledger.statement(db, "acc_\x00", T0)
    assert "\x00" not in str(refused.value)


# --- odd shapes of what a merchant or an app sends (pinned: refused in one line, nothing stored) ---


@pytest.mark.parametrize(
    "value",
    [-1, 10**9 + 1, 2**63, True, 1.0, "5", None],
    ids=["negative", "past max", "past bigint", "bool", "float", "str", "none"],
)
def test_stock_and_price_of_odd_shapes_are_refused(lite: Engine, value: Any) -> None:
    setup_sources(lite)
    r = _right(lite, stock=3)
    with pytest.raises(AccountsError) as refused:
        rights.set_stock(lite, SHOP, r.id, value, T0 + 1)
    assert "\n" not in str(refused.value)
    with pytest.raises(AccountsError):
        _right(lite, price=value if value != -1 else 0)
    assert rights.get_right(lite, r.id).stock == 3 and len(rights.list_rights(lite)) == 1


@pytest.mark.parametrize(
    "key",
    ["k" * 101, "订单-1", "k\x00", "k\n", "\t", 42, None],
    ids=["101 chars", "not ascii", "nul", "newline", "tab", "int", "none"],
)
def test_idempotency_keys_of_odd_shapes_are_refused(lite: Engine, key: Any) -> None:
    person = new_person(lite, setup_sources(lite))
    credit(lite, person, 1_000, at=T0, expires_at=T0 + DAY, record="r1")
    r = _right(lite)
    with pytest.raises(AccountsError, match="idempotency key is 1 to 100 printable ASCII"):
        rights.redeem(lite, APP, person, r.id, key, T0 + 1)
    assert rights.redeem(lite, APP, person, r.id, "k" * 100, T0 + 1).points == 100  # 100 characters: the limit
    assert ledger.balance(lite, person, T0 + 1) == 900
