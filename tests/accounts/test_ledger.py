"""The points ledger (accounts/ledger.py): balanced transactions, FIFO spending across lots, balances
never negative, corrections as new entries, statements with a keyset cursor, the audit, and no way
to move points between people."""

from __future__ import annotations

import inspect
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, select, update

from accounts import ledger, rights
from accounts.errors import InputError
from accounts.ledger_models import ENTRIES, LOTS
from tests.accounts.ledger_helpers import APP, DAY, SHOP, T0, credit, kinds, new_person, setup_sources, total


@pytest.fixture
def person(engine: Engine) -> str:
    return new_person(engine, setup_sources(engine))


def test_every_transaction_balances_and_post_refuses_one_that_does_not(engine: Engine, person: str) -> None:
    credit(engine, person, 120, at=T0, expires_at=T0 + 30 * DAY, record="r1")
    ledger.correct(engine, person, -20, "duplicate trip credited twice", T0 + 1)
    # 120 credited (source -120, person +120), 20 taken back (person -20, operator +20): 0 overall
    assert total(engine) == 0
    with engine.connect() as conn:
        accounts = dict(
            conn.execute(select(ENTRIES.c.account, ENTRIES.c.amount).where(ENTRIES.c.txn == "credit:r1")).all()
        )
    assert accounts == {f"source:{APP}": -120, f"person:{person}": 120}
    with engine.begin() as conn, pytest.raises(ledger.UnbalancedError, match="does not balance"):
        ledger.post(
            conn,
            "credit:bad",
            "credit",
            "bad",
            [ledger.Posting("source:x", -5), ledger.Posting("person:acc_x", 4, T0)],
            T0,
        )
    assert ledger.audit(engine) == []


def test_fifo_spends_the_soonest_expiry_first_across_lots(engine: Engine, person: str) -> None:
    # lots: A 100 lapsing day 30, B 50 lapsing day 10, C 80 lapsing day 20 (credited in that order)
    credit(engine, person, 100, at=T0, expires_at=T0 + 30 * DAY, record="a")
    credit(engine, person, 50, at=T0, expires_at=T0 + 10 * DAY, record="b")
    credit(engine, person, 80, at=T0, expires_at=T0 + 20 * DAY, record="c")
    assert ledger.balance(engine, person, T0) == 230  # 100 + 50 + 80
    # taking 90: all 50 of B (day 10), then 40 of C (day 20); A untouched
    ledger.correct(engine, person, -90, "fifo test", T0 + 1)
    with engine.connect() as conn:
        left = {r.expires_at: r.remaining for r in conn.execute(select(LOTS.c.expires_at, LOTS.c.remaining))}
    assert left == {T0 + 10 * DAY: 0, T0 + 20 * DAY: 40, T0 + 30 * DAY: 100}
    assert ledger.balance(engine, person, T0 + 1) == 140  # 230 - 90
    # the debit's postings name the lots' expiries: -50 (day 10) and -40 (day 20)
    s = ledger.statement(engine, person, T0 + 1)
    debits = sorted((e.amount, e.expires_at) for e in s.entries if e.kind == "correct")
    assert debits == [(-50, T0 + 10 * DAY), (-40, T0 + 20 * DAY)]
    assert (s.next_lapse_amount, s.next_lapse_at) == (40, T0 + 20 * DAY)  # B is empty, so C lapses next


def test_balances_never_go_negative(engine: Engine, person: str) -> None:
    credit(engine, person, 30, at=T0, expires_at=T0 + DAY, record="r1")
    with pytest.raises(ledger.InsufficientPointsError, match="holds 30 points at this time, 31 are needed") as refused:
        ledger.correct(engine, person, -31, "too much", T0)
    assert refused.value.balance == 30
    # lapsed points cannot be spent either: at T0 + DAY the 30 are gone, so even 1 is refused
    with pytest.raises(ledger.InsufficientPointsError, match="holds 0 points"):
        ledger.correct(engine, person, -1, "after expiry", T0 + DAY)
    assert ledger.balance(engine, person, T0) == 30
    assert ledger.audit(engine) == []


def test_a_correction_is_a_new_transaction_never_an_update(engine: Engine, person: str) -> None:
    credit(engine, person, 500, at=T0, expires_at=T0 + 30 * DAY, record="r1")
    with engine.connect() as conn:
        before = conn.execute(select(ENTRIES).order_by(ENTRIES.c.id)).all()
    txn = ledger.correct(engine, person, 25, "missed trip, ticket 1234", T0 + 60)
    with engine.connect() as conn:
        after = conn.execute(select(ENTRIES).order_by(ENTRIES.c.id)).all()
    assert after[: len(before)] == before  # the credit's rows are untouched
    added = [(r.account, r.amount, r.kind, r.ref) for r in after[len(before) :]]
    assert sorted(added) == [
        ("operator", -25, "correct", "missed trip, ticket 1234"),
        (f"person:{person}", 25, "correct", "missed trip, ticket 1234"),
    ]
    assert txn.startswith("correct:")
    # a positive correction lapses like a credit made at its time: 60 s + the configured validity
    assert after[-1].expires_at == T0 + 60 + ledger.valid_seconds()
    assert ledger.balance(engine, person, T0 + 60) == 525  # 500 + 25


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        (0, "x", "non-zero whole number"),
        (True, "x", "non-zero whole number"),
        (5, "", "needs a reason"),
        (5, "a\nb", "needs a reason"),
    ],
)
def test_bad_corrections_are_refused_in_one_line(
    engine: Engine, person: str, amount: int, reason: str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as refused:
        ledger.correct(engine, person, amount, reason, T0)
    assert "\n" not in str(refused.value)
    assert total(engine) == 0 and kinds(engine) == set()


def test_points_cannot_be_moved_to_another_person(engine: Engine) -> None:
    app = setup_sources(engine)
    alice, bob = new_person(engine, app), new_person(engine, app)
    credit(engine, alice, 100, at=T0, expires_at=T0 + DAY, record="r1")
    # post never debits a person: a "transfer" written through it is refused, nothing stored
    with engine.begin() as conn, pytest.raises(ledger.UnbalancedError, match="never debited"):
        ledger.post(
            conn,
            "credit:move",
            "credit",
            "move",
            [ledger.Posting(f"person:{alice}", -40), ledger.Posting(f"person:{bob}", 40, T0 + DAY)],
            T0,
        )
    with engine.begin() as conn, pytest.raises(ledger.UnbalancedError, match="kind 'transfer'"):
        ledger.post(
            conn,
            "t:1",
            "transfer",
            "x",
            [ledger.Posting("source:x", -1), ledger.Posting(f"person:{bob}", 1, T0 + DAY)],
            T0,
        )
    assert (ledger.balance(engine, alice, T0), ledger.balance(engine, bob, T0)) == (100, 0)
    # and no function of the ledger or the exchange takes two persons
    names = [
        n
        for mod in (ledger, rights)
        for n, f in inspect.getmembers(mod, inspect.isfunction)
        if f.__module__ == mod.__name__
    ]
    assert not [n for n in names if "transfer" in n or "move" in n or "gift" in n]
    # a full cycle writes only the five kinds
    r = rights.add_right(
        engine, SHOP, name="Bus ride", kind="transit_credit", stock=5, price=10, reversal_window=60, now=T0
    )
    red = rights.redeem(engine, APP, alice, r.id, "k1", T0 + 1)
    rights.reverse(engine, SHOP, red.id, T0 + 2)
    ledger.correct(engine, alice, 1, "goodwill", T0 + 3)
    ledger.expire_due(engine, T0 + DAY)
    assert kinds(engine) == set(ledger.KINDS) == {"credit", "redeem", "reverse", "expire", "correct"}
    assert total(engine) == 0
    assert ledger.audit(engine) == []


def test_statement_pages_newest_first_with_a_keyset_cursor(engine: Engine, person: str) -> None:
    for i in range(5):
        credit(engine, person, 10 * (i + 1), at=T0 + i, expires_at=T0 + (10 + i) * DAY, record=f"r{i}")
    # credits of 10, 20, 30, 40, 50: balance 150; the soonest to lapse are the 10 of day 10
    first = ledger.statement(engine, person, T0 + 10, limit=2)
    assert first.balance == 150
    assert (first.next_lapse_amount, first.next_lapse_at) == (10, T0 + 10 * DAY)
    assert [e.amount for e in first.entries] == [50, 40]
    second = ledger.statement(engine, person, T0 + 10, limit=2, before=first.next_before)
    assert [e.amount for e in second.entries] == [30, 20]
    third = ledger.statement(engine, person, T0 + 10, limit=2, before=second.next_before)
    assert [e.amount for e in third.entries] == [10]
    assert third.next_before is None
    # the entries' ids strictly fall from page to page: no entry twice, none skipped
    ids = [e.id for p in (first, second, third) for e in p.entries]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5
    with pytest.raises(InputError, match="limit is 1 to 500"):
        ledger.statement(engine, person, T0, limit=501)


def test_statement_of_an_account_without_entries(engine: Engine, person: str) -> None:
    s = ledger.statement(engine, person, T0)
    assert (s.balance, s.next_lapse_amount, s.next_lapse_at, s.entries, s.next_before) == (0, 0, None, [], None)


def test_audit_catches_a_derived_lot_rewritten_in_sql(engine: Engine, person: str) -> None:
    credit(engine, person, 100, at=T0, expires_at=T0 + DAY, record="r1")
    with engine.begin() as conn:
        conn.execute(update(LOTS).values(remaining=1_000))
    assert ledger.balance(engine, person, T0) == 1_000  # the derived table is what the balance reads ...
    problems = ledger.audit(engine)
    assert problems == [
        f"lot {problems[0].split()[1]} holds 1000 (expires {T0 + DAY}); its entries give 100 (expires {T0 + DAY})"
    ]


def test_audit_catches_an_entry_rewritten_in_sql(engine: Engine, person: str) -> None:
    credit(engine, person, 100, at=T0, expires_at=T0 + DAY, record="r1")
    with engine.begin() as conn:
        conn.execute(update(ENTRIES).where(ENTRIES.c.account == f"person:{person}").values(amount=900))
    problems = ledger.audit(engine)
    assert "transaction credit:r1 sums to 800, not 0" in problems  # -100 + 900
    assert any("its entries give 900" in p for p in problems)


def test_concurrent_debits_of_one_person_never_go_below_zero_on_postgresql(pg_engine: Engine) -> None:
    person = new_person(pg_engine, setup_sources(pg_engine))
    credit(pg_engine, person, 100, at=T0, expires_at=T0 + DAY, record="a")
    credit(pg_engine, person, 50, at=T0, expires_at=T0 + 2 * DAY, record="b")

    def take(i: int) -> bool:
        try:
            ledger.correct(pg_engine, person, -40, f"concurrent {i}", T0 + 1)
        except ledger.InsufficientPointsError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(take, range(8)))
    # 150 points pay for three debits of 40 (120), leaving 30: the lots' row locks serialise the five others
    assert sum(outcomes) == 3
    assert ledger.balance(pg_engine, person, T0 + 1) == 30
    assert total(pg_engine) == 0 and ledger.audit(pg_engine) == []
