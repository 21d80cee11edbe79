"""Expiry (accounts/ledger.py): points lapse at expires_at exactly, whether or not the sweep has
run; the sweep writes one "expire" transaction per lapsed lot and is idempotent; the validity period
is configured, 10 years (3,652 days) at most: the Shenzhen rule, research next_wave.md §2.3."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, func, select

from accounts import ledger
from accounts.errors import InputError
from accounts.ledger_models import ENTRIES
from tests.accounts.ledger_helpers import DAY, T0, credit, new_person, setup_sources, total


@pytest.fixture
def person(engine: Engine) -> str:
    return new_person(engine, setup_sources(engine))


def test_expiry_boundary_counted_one_second_before_not_at(engine: Engine, person: str) -> None:
    lapse = T0 + 365 * DAY
    credit(engine, person, 70, at=T0, expires_at=lapse, record="r1")
    credit(engine, person, 30, at=T0, expires_at=lapse + 1, record="r2")
    assert ledger.balance(engine, person, lapse - 1) == 100  # 70 + 30: both live
    assert ledger.balance(engine, person, lapse) == 30  # the 70 lapse at expires_at, no sweep needed
    assert ledger.balance(engine, person, lapse + 1) == 0
    # and spending at the boundary sees the same: 31 is one more than what is left at `lapse`
    with pytest.raises(ledger.InsufficientPointsError, match="holds 30 points"):
        ledger.correct(engine, person, -31, "boundary", lapse)
    s = ledger.statement(engine, person, lapse - 1)
    assert (s.balance, s.next_lapse_amount, s.next_lapse_at) == (100, 70, lapse)


def test_sweep_writes_expire_transactions_once(engine: Engine, person: str) -> None:
    credit(engine, person, 70, at=T0, expires_at=T0 + DAY, record="r1")
    credit(engine, person, 30, at=T0, expires_at=T0 + 2 * DAY, record="r2")
    ledger.correct(engine, person, -20, "spent before the lapse", T0 + 1)  # takes 20 of the 70: 50 left there
    assert ledger.expire_due(engine, T0 + DAY - 1) == 0  # nothing lapsed yet
    assert ledger.expire_due(engine, T0 + DAY) == 1
    assert ledger.expire_due(engine, T0 + DAY) == 0  # idempotent: the lot has nothing left
    with engine.connect() as conn:
        rows = conn.execute(
            select(ENTRIES.c.txn, ENTRIES.c.account, ENTRIES.c.amount, ENTRIES.c.ref).where(ENTRIES.c.kind == "expire")
        ).all()
        credit_id = conn.execute(
            select(ENTRIES.c.id).where(ENTRIES.c.txn == "credit:r1", ENTRIES.c.amount > 0)
        ).scalar_one()
    # only the remainder lapses: 70 - 20 = 50, from the person to "expired"
    assert sorted((r.account, r.amount) for r in rows) == [("expired", 50), (f"person:{person}", -50)]
    assert {r.txn for r in rows} == {f"expire:{credit_id}"} and {r.ref for r in rows} == {str(credit_id)}
    assert ledger.balance(engine, person, T0 + DAY) == 30  # the sweep changes nothing a balance shows
    assert ledger.expire_due(engine, T0 + 3 * DAY) == 1  # the 30 of day 2
    assert ledger.balance(engine, "expired", T0 + 3 * DAY) == 80  # 50 + 30
    assert total(engine) == 0
    assert ledger.audit(engine) == []


def test_a_fully_spent_lot_is_not_expired(engine: Engine, person: str) -> None:
    credit(engine, person, 40, at=T0, expires_at=T0 + DAY, record="r1")
    ledger.correct(engine, person, -40, "all spent", T0 + 1)
    assert ledger.expire_due(engine, T0 + 2 * DAY) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(ENTRIES.c.kind == "expire")).scalar_one() == 0


def test_validity_default_and_maximum_is_ten_years(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_ACCOUNTS_POINTS_VALID_DAYS", raising=False)
    # 3,652 days = 315,532,800 s; ten calendar years from 2026-01-01 end on 2036-01-01, 3,652 days later
    # (2028 and 2032 are leap years), so the default reaches exactly ten years here and never beyond
    assert ledger.valid_seconds() == 3_652 * 86_400 == 315_532_800
    assert ledger.expiry_for(T0) == T0 + 315_532_800 == 2_082_758_400  # 2036-01-01T00:00:00Z
    monkeypatch.setenv("LEDGER_ACCOUNTS_POINTS_VALID_DAYS", "365")
    assert ledger.expiry_for(T0) == T0 + 365 * 86_400
    monkeypatch.setenv("LEDGER_ACCOUNTS_POINTS_VALID_DAYS", "3653")
    with pytest.raises(InputError) as refused:
        ledger.valid_seconds()
    message = str(refused.value)
    assert "\n" not in message
    assert message == (
        "LEDGER_ACCOUNTS_POINTS_VALID_DAYS=3653 is more than 10 years (3652 days), the Shenzhen maximum "
        "(深环规〔2022〕5号); set it to 3652 or less"
    )
    monkeypatch.setenv("LEDGER_ACCOUNTS_POINTS_VALID_DAYS", "0")
    with pytest.raises(InputError, match="at least 1 day"):
        ledger.valid_seconds()


def test_concurrent_sweeps_expire_each_lot_once_on_postgresql(pg_engine: Engine) -> None:
    app = setup_sources(pg_engine)
    people = [new_person(pg_engine, app) for _ in range(30)]
    for i, p in enumerate(people):
        credit(pg_engine, p, 10 + i, at=T0, expires_at=T0 + DAY, record=f"r{i}")
    # four sweeps at once: SKIP LOCKED lets each take lots the others have not, none twice
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: ledger.expire_due(pg_engine, T0 + DAY), range(4)))
    assert sum(counts) == 30
    assert ledger.expire_due(pg_engine, T0 + DAY) == 0
    # 10 + 11 + … + 39 = 30 × (10 + 39) / 2 = 735 points lapsed, once each
    assert ledger.balance(pg_engine, "expired", T0 + DAY) == 735
    assert total(pg_engine) == 0 and ledger.audit(pg_engine) == []
