"""A statement reads its balance and its page of entries from one moment (indexer.db.read_snapshot):
a credit committed between the two reads shows in neither, on SQLite and on PostgreSQL, so the
balance a person is shown is the sum of the entries shown with it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, Table, func, select

from accounts import ledger
from accounts.ledger_models import ENTRIES
from indexer.db import read_snapshot
from tests.accounts.ledger_helpers import DAY, T0, credit, new_person, setup_sources


def _count(engine: Engine, table: Table = ENTRIES) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue("engine" if request.param == "sqlite" else "pg_engine")
    return engine


def test_a_snapshot_does_not_see_a_commit_made_between_its_reads(db: Engine) -> None:
    person = new_person(db, setup_sources(db))
    credit(db, person, 100, at=T0, expires_at=T0 + 30 * DAY, record="one")
    with read_snapshot(db) as conn:
        first = conn.execute(select(func.count()).select_from(ENTRIES)).scalar_one()
        credit(db, person, 50, at=T0, expires_at=T0 + 30 * DAY, record="two")  # another connection, committed
        assert _count(db) == first + 2  # outside the snapshot the commit is there
        assert conn.execute(select(func.count()).select_from(ENTRIES)).scalar_one() == first
    assert ledger.balance(db, person, T0) == 150


def test_a_snapshot_is_read_only_on_postgresql(pg_engine: Engine) -> None:
    person = new_person(pg_engine, setup_sources(pg_engine))
    with read_snapshot(pg_engine) as conn, pytest.raises(Exception, match="read-only"):
        conn.execute(ENTRIES.delete().where(ENTRIES.c.account == ledger.person(person)))


def test_a_statement_shows_a_balance_that_its_entries_add_up_to(db: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    person = new_person(db, setup_sources(db))
    credit(db, person, 100, at=T0, expires_at=T0 + 30 * DAY, record="one")
    balance_in = ledger.balance_in

    def then_a_credit(conn: object, account: str, now: int) -> int:
        found = balance_in(conn, account, now)  # type: ignore[arg-type]
        credit(db, person, 50, at=T0, expires_at=T0 + 30 * DAY, record="two")  # lands between the reads
        return found

    monkeypatch.setattr(ledger, "balance_in", then_a_credit)
    shown = ledger.statement(db, person, T0 + DAY)
    assert shown.balance == 100
    assert [e.amount for e in shown.entries] == [100]  # read apart, the page held the 50 the balance lacked
    monkeypatch.setattr(ledger, "balance_in", balance_in)
    later = ledger.statement(db, person, T0 + DAY)
    assert later.balance == sum(e.amount for e in later.entries) == 150
