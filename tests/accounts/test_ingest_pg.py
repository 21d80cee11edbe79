"""Ingest on PostgreSQL: the same entries as through accounts.ledger.post on SQLite, and two batches
at once crediting one behaviour once and never passing a cap."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, select

from accounts import ledger
from accounts.ingest import RecordOutcome, ingest
from accounts.ledger_models import ENTRIES, LOTS
from tests.accounts.conftest import Apps, make_apps
from tests.accounts.test_ingest import NOW, rec, ride, summary
from tests.accounts.test_methodology import shanghai


def _ledger_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """The entries and lots, with the transaction names (random) and the behaviour keys (hashes over
    the account id, which differs between the two databases) checked and left out."""
    e = ENTRIES.c
    with engine.connect() as conn:
        rows = conn.execute(select(e.txn, e.account, e.amount, e.kind, e.ref, e.created_at, e.expires_at)).all()
        lots = conn.execute(select(LOTS.c.account, LOTS.c.expires_at, LOTS.c.remaining)).all()
    shown = []
    for r in rows:
        # a batch's credits are one transaction, named at random; a person's posting names its record
        assert re.fullmatch(r"credit:[0-9a-f]{32}", r.txn), r.txn
        if r.account.startswith("person:"):
            assert re.fullmatch(r"record:[0-9a-f]{64}", r.ref), r.ref
        shown.append((r.account, r.amount, r.kind, r.ref if r.ref.startswith("batch:") else "record", *tuple(r)[5:]))
    return sorted(shown) + sorted(tuple(r) for r in lots)


def _batch(account: str) -> list[dict[str, Any]]:
    at = shanghai(2026, 3, 10, 9)
    return [
        ride(account, "r1", at, "3", "b1"),
        ride(account, "r2", at + 600, "4", "b2"),  # 800 with 600 used: capped at 400
        ride(account, "r3", at + 1200, "1", "b3"),  # cap reached
        rec(account, "m1", "metro", at, "10", entry_station="A", exit_station="B"),
        rec(account, "m1-dup", "metro-ticket", at + 60, 1, entry_station="A", exit_station="B"),
        rec(account, "x", "teleport", at, 1),
    ]


def test_postgres_writes_what_the_ledger_writes_on_sqlite(pg_engine: Engine, engine: Engine) -> None:
    results = []
    for db in (engine, pg_engine):
        apps = make_apps(db)
        got = ingest(db, apps.a, _batch(apps.account), NOW)
        assert ingest(db, apps.a, _batch(apps.account), NOW + 1) == got  # a retry: the same, nothing new
        # 3 km × 200 = 600; 400 more to the daily cap of 1,000; 10 pkm × 46.8 = 468
        assert summary(got) == [
            ("credited", 600, None),
            ("credited", 400, None),
            ("refused", 0, "cap_reached"),
            ("credited", 468, None),
            ("duplicate", 0, None),
            ("refused", 0, "unknown_type"),
        ]
        assert ledger.balance(db, apps.account, NOW) == 1468
        rows = _ledger_rows(db)
        results.append([tuple(x.replace(apps.account, "ACC") if isinstance(x, str) else x for x in r) for r in rows])
    assert results[0] == results[1]


def test_a_reused_id_is_refused_on_postgres_as_on_sqlite_and_frees_its_cap_room(
    pg_engine: Engine, engine: Engine
) -> None:
    """PostgreSQL's first read looks records up by key only: a record whose id another behaviour
    holds reaches the write, which refuses it (unique source and id), and the batch is decided again
    without it, so the ride capped by its points gets them (as SQLite, which reads by id, decides)."""
    at = shanghai(2026, 3, 10, 9)
    results = []
    for db in (engine, pg_engine):
        apps = make_apps(db)
        assert summary(ingest(db, apps.a, [ride(apps.account, "r1", at, "3", "b1")], NOW)) == [("credited", 600, None)]
        again = [
            ride(apps.account, "r1", at + 3600, "2", "b9"),  # the id of r1 for another ride: id_reused
            ride(apps.account, "r4", at + 7200, "3", "b4"),  # 600 wanted, 400 left of the daily 1,000
            ride(apps.account, "r1", at + 3600, "2", "b9"),  # the same again in the batch: answers as the first
        ]
        got = ingest(db, apps.a, again, NOW)
        assert summary(got) == [("refused", 0, "id_reused"), ("credited", 400, None), ("refused", 0, "id_reused")]
        assert got[1].capped
        assert ingest(db, apps.a, again, NOW + 1) == got  # a retry: the same outcomes, nothing new
        # no cap cut this one (another day): the write refuses it, and its points go back to the counters
        late = [ride(apps.account, "r1", at - 86_400, "1", "b7"), ride(apps.account, "r5", at - 86_400, "4", "b5")]
        assert summary(ingest(db, apps.a, late, NOW)) == [("refused", 0, "id_reused"), ("credited", 800, None)]
        assert summary(ingest(db, apps.a, [ride(apps.account, "r6", at - 86_340, "1", "b6")], NOW)) == [
            ("credited", 200, None)
        ]
        assert ledger.balance(db, apps.account, NOW) == 2000
        assert ledger.audit(db) == []
        rows = _ledger_rows(db)
        results.append([tuple(x.replace(apps.account, "ACC") if isinstance(x, str) else x for x in r) for r in rows])
    assert results[0] == results[1]


def _race(engine: Engine, jobs: list[Callable[[], list[RecordOutcome]]]) -> list[list[RecordOutcome]]:
    barrier = threading.Barrier(len(jobs))
    out: list[list[RecordOutcome]] = [[] for _ in jobs]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            out[i] = jobs[i]()
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a batch hung (deadlock?)"
    assert errors == []
    return out


@pytest.mark.parametrize("db", ["pg_engine", "engine"])
def test_two_apps_at_once_with_the_same_trip_credit_it_once(db: str, request: pytest.FixtureRequest) -> None:
    """On PostgreSQL and on SQLite (the default database). Each app's batch also carries a ride of
    its own, which is credited whichever batch wins the shared trip."""
    pg_engine: Engine = request.getfixturevalue(db)
    apps: Apps = make_apps(pg_engine)
    at = shanghai(2026, 3, 10, 8)
    for round_ in range(4):  # several rounds: each a fresh race
        t = at + round_ * 3600
        trip_a = rec(apps.account, f"a{round_}", "metro", t, "10", entry_station="A", exit_station=f"B{round_}")
        trip_b = rec(apps.account, f"b{round_}", "metro", t + 30, "10", entry_station="A", exit_station=f"B{round_}")
        ride_a = ride(apps.account, f"ra{round_}", t, "0.5", f"bike-a{round_}")
        ride_b = ride(apps.account, f"rb{round_}", t, "0.5", f"bike-b{round_}")
        got = _race(
            pg_engine,
            [
                partial(ingest, pg_engine, apps.a, [ride_a, trip_a], NOW),
                partial(ingest, pg_engine, apps.b, [trip_b, ride_b], NOW),
            ],
        )
        shared = [got[0][1], got[1][0]]
        assert sorted(o.status for o in shared) == ["credited", "duplicate"]
        assert shared[0].record == shared[1].record
        assert (got[0][0].status, got[0][0].points, got[1][1].status, got[1][1].points) == (
            "credited",
            100,
            "credited",
            100,
        )
    # four trips of 10 pkm × 46.8 g = 468 each, once each: 1,872 (under the metro daily cap of
    # 2,000), and eight rides of 0.5 km × 200 g = 100 each: 800 (under the cycling cap of 1,000)
    assert ledger.balance(pg_engine, apps.account, NOW) == 4 * 468 + 8 * 100


def test_concurrent_batches_never_pass_a_cap(pg_engine: Engine) -> None:
    apps = make_apps(pg_engine)
    at = shanghai(2026, 3, 10, 9)
    # four batches of three 1 km rides (200 points each) on one day: 2,400 asked, cap 1,000
    batches = [
        [ride(apps.account, f"{k}-{i}", at + 300 * (3 * k + i), "1", f"bike{k}{i}") for i in range(3)] for k in range(4)
    ]
    principals = [apps.a, apps.b, apps.a, apps.b]
    got = _race(pg_engine, [partial(ingest, pg_engine, p, b, NOW) for b, p in zip(batches, principals, strict=True)])
    credited = sum(o.points for g in got for o in g)
    assert credited == 1000
    assert ledger.balance(pg_engine, apps.account, NOW) == 1000
    assert sum(1 for g in got for o in g if o.code == "cap_reached") == 7  # 12 rides, 5 fit (5 × 200)
