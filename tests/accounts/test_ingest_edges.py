"""Ingest at its edges. Four batches at once on PostgreSQL, sharing people's cap counters and behaviours in different
orders: no deadlock or serialisation failure escapes ingest, each behaviour earns once, and no cap
is passed."""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from accounts import ledger
from accounts.ingest import ingest
from accounts.ledger_models import ENTRIES
from accounts.methodology import COLUMNS, import_rows
from accounts.models import CAP_COUNTERS
from accounts.people import grant_consent, open_account
from tests.accounts.conftest import T0, Apps, make_apps
from tests.accounts.test_ingest import NOW, rec, ride, summary
from tests.accounts.test_ingest_pg import _race
from tests.accounts.test_methodology import shanghai

PEOPLE = 20


def test_four_batches_at_once_sharing_counters_and_trips(pg_engine: Engine) -> None:
    apps = make_apps(pg_engine)
    people = [apps.account]
    for _ in range(PEOPLE - 1):
        acc = open_account(pg_engine, apps.a, T0)
        grant_consent(pg_engine, apps.a, acc, "transit", T0)
        grant_consent(pg_engine, apps.a, acc, "transit", T0, for_source=apps.b.source_id)
        people.append(acc)
    rng = random.Random(4)
    txns: set[str | None] = set()
    credited = 0
    for day in (7, 8, 9):
        at = shanghai(2026, 3, day, 7)

        def trip(rid: str, person: str, n: int, tag: str, at: int = at) -> dict[str, Any]:
            # 1 pkm × 46.8 g = 46 points; stations unique per trip, so only the shared ones collide
            return rec(person, rid, "metro", at + 60 * n, "1", entry_station=f"{tag}{n}", exit_station="Z")

        shared = [(p, n) for p in people for n in range(10)]
        batches = []
        for k in range(4):
            mine = [trip(f"d{day}-{k}-s{i}", p, n, "S") for i, (p, n) in enumerate(shared)]
            mine += [trip(f"d{day}-{k}-o{i}", p, n, f"O{k}-") for i, (p, n) in enumerate(shared)]
            rng.shuffle(mine)  # each batch meets the shared rows in its own order
            batches.append(mine)
        principals = [apps.a, apps.b, apps.a, apps.b]
        got = _race(
            pg_engine, [partial(ingest, pg_engine, p, b, NOW) for p, b in zip(principals, batches, strict=True)]
        )
        txns |= {o.txn for g in got for o in g if o.status == "credited"}
        credited += sum(o.status == "credited" for g in got for o in g)
        shared_keys = [o.record for g in got for o in g if o.status == "credited" and "-s" in (o.id or "")]
        assert len(shared_keys) == len(set(shared_keys))  # a shared trip earns once, whichever batch wins
        # per person and day: 10 shared + 4 × 10 own trips of 46 = 2,300 asked; the metro daily cap is 2,000
        for person in people:
            asked = [
                o
                for b, g in zip(batches, got, strict=True)
                for r, o in zip(b, g, strict=True)
                if r["account"] == person
            ]
            assert sum(o.points for o in asked if o.status == "credited") == 2000
    for person in people:
        assert ledger.balance(pg_engine, person, NOW) == 3 * 2000
    with pg_engine.connect() as conn:
        # the counters hold exactly what was credited: a behaviour lost to another batch gave its
        # points back to them (3 days × 2,000 a year, 2,000 a day)
        counters = conn.execute(select(CAP_COUNTERS.c.account_id, CAP_COUNTERS.c.period, CAP_COUNTERS.c.points)).all()
        assert sorted({(p, n) for _, p, n in counters}) == [
            ("d2026-03-07", 2000),
            ("d2026-03-08", 2000),
            ("d2026-03-09", 2000),
            ("y2026", 6000),
        ]
        assert len(counters) == PEOPLE * 4
        # a posting per credited behaviour (20 people × 3 days × ⌈2,000 / 46⌉ = 44 credits) and one for the
        # source per transaction, a transaction per batch that credited anything, nothing more
        assert credited == 20 * 3 * 44 and len(txns) <= 4 * 3
        assert conn.execute(select(func.count()).select_from(ENTRIES)).scalar_one() == credited + len(txns)
    assert ledger.audit(pg_engine) == []


CYCLING_V2 = (
    "cycling,2,cycling,km,100,300,100000,bike-ride,bike_id,300,2026-03-09T12:00:00+08:00,"
    "illustrative: a test version,,true,true,"
)


@pytest.mark.parametrize("db", ["engine", "pg_engine"])
def test_a_type_whose_version_changes_mid_batch(db: str, request: pytest.FixtureRequest) -> None:
    """cycling v2 from 12:00 on 9 March halves the factor (100 g/km) and lowers the daily cap to 300.
    Each record is converted by the version in force at its occurred_at; the day's one counter
    holds both, and a v2 record meets v2's cap."""
    engine: Engine = request.getfixturevalue(db)
    apps = make_apps(engine)
    header = ",".join(COLUMNS)
    import_rows(engine, f"{header}\n{CYCLING_V2}\n", NOW - 10)
    noon = shanghai(2026, 3, 9, 12)
    got = ingest(
        engine,
        apps.a,
        [
            ride(apps.account, "r1", noon - 1, "1", "b1"),  # v1: 1 km × 200 g = 200
            ride(apps.account, "r2", noon, "1", "b2"),  # v2: 1 km × 100 g = 100 → 300 used: v2's cap
            ride(apps.account, "r3", noon + 600, "1", "b3"),  # v2: nothing left under 300
        ],
        NOW,
    )
    assert [(o.status, o.points, o.code, o.type_version) for o in got] == [
        ("credited", 200, None, 1),
        ("credited", 100, None, 2),
        ("refused", 0, "cap_reached", 2),
    ]
    assert ledger.balance(engine, apps.account, NOW) == 300


def test_occurred_at_at_the_clock_skew_boundary_and_before_the_first_version(apps: Apps) -> None:
    got = ingest(
        apps.engine,
        apps.a,
        [
            ride(apps.account, "f300", NOW + 300, "0.5", "b1"),  # 300 s ahead: the allowed skew
            ride(apps.account, "f301", NOW + 301, "0.5", "b2"),
            ride(apps.account, "old", shanghai(1999, 12, 31, 23), "0.5", "b3"),  # v1 starts 2000-01-01
        ],
        NOW,
    )
    assert summary(got) == [("credited", 100, None), ("refused", 0, "future"), ("refused", 0, "unknown_type")]
    assert got[2].reason == "no version of cycling is in force at occurred_at"
