"""Two reports of one behaviour on either side of a time-bucket boundary are one behaviour: a record
near its bucket's edge has a second key in buckets shifted by half a bucket
(accounts.ingest.behaviour_keys), so reports less than a quarter of a bucket apart always meet,
wherever the boundary falls; a bucket of a day is a calendar day and has none."""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, select

from accounts import ingest as ingest_module
from accounts import ledger
from accounts.ingest import _parse, _Parsed, behaviour_key, behaviour_keys, ingest
from accounts.methodology import load
from accounts.models import BEHAVIOUR_RECORDS
from tests.accounts.conftest import Apps, make_apps
from tests.accounts.test_ingest import NOW, rec
from tests.accounts.test_ingest_pg import _race
from tests.accounts.test_methodology import shanghai

TEN = shanghai(2026, 3, 10, 10)  # a 10-minute bucket boundary (and an hour's), Asia/Shanghai


def _trip(account: str, rid: str, at: int, kind: str = "metro", exit_station: str = "B") -> dict[str, Any]:
    quantity = "10" if kind == "metro" else 1  # 10 pkm × 46.8 = 468 points, or one ticket: 274
    return rec(account, rid, kind, at, quantity, entry_station="A", exit_station=exit_station)


def _parsed(engine: Engine, record: dict[str, Any]) -> _Parsed:
    with engine.connect() as conn:
        got = _parse(0, record, load(conn), NOW)
    assert isinstance(got, _Parsed), got
    return got


def test_reports_closer_than_a_quarter_bucket_share_a_key_and_a_bucket_apart_never(engine: Engine) -> None:
    """Over every position of the pair against the boundary (5 s steps over a whole bucket)."""
    account = "acc_" + "a" * 26
    metro = _parsed(engine, _trip(account, "x", TEN)).behaviour
    fields = {"entry_station": "A", "exit_station": "B"}

    def claims(at: int) -> set[str]:
        return {k for k in behaviour_keys(account, metro, fields, at) if k is not None}

    carrying = 0
    for start in range(TEN - 600, TEN, 5):
        first = claims(start)
        carrying += len(first) - 1
        for gap in (1, 60, 120, 149):
            assert first & claims(start + gap), (start, gap)
        assert not first & claims(start + 600), start
    assert carrying == 60  # the records within 150 s of an edge, half of them
    # the key itself is what it always was
    assert behaviour_keys(account, metro, fields, TEN)[0] == behaviour_key(account, metro, fields, TEN)


@pytest.mark.parametrize("db", ["engine", "pg_engine"])
@pytest.mark.parametrize("later_first", [False, True])
def test_two_apps_either_side_of_a_boundary_credit_the_trip_once(
    db: str, later_first: bool, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(db)
    apps = make_apps(engine)
    early = _trip(apps.account, "e", TEN - 10)  # 09:59:50, bucket 09:50
    late = _trip(apps.account, "l", TEN + 20)  # 10:00:20, bucket 10:00: the same trip
    first, second = (late, early) if later_first else (early, late)
    (a,) = ingest(engine, apps.a, [first], NOW)
    (b,) = ingest(engine, apps.b, [second], NOW)
    assert (a.status, a.points, b.status, b.points) == ("credited", 468, "duplicate", 0)
    assert (b.record, b.txn) == (a.record, a.txn)  # the duplicate names the credit it repeats
    assert ledger.balance(engine, apps.account, NOW) == 468
    # retried, each answers its first outcome
    assert ingest(engine, apps.b, [second], NOW) == [b] and ingest(engine, apps.a, [first], NOW) == [a]
    assert ledger.audit(engine) == []


@pytest.mark.parametrize("db", ["engine", "pg_engine"])
def test_in_one_batch_the_second_report_is_the_duplicate(db: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(db)
    apps = make_apps(engine)
    got = ingest(engine, apps.a, [_trip(apps.account, "e", TEN - 10), _trip(apps.account, "l", TEN + 20)], NOW)
    assert [(o.status, o.points) for o in got] == [("credited", 468), ("duplicate", 0)]
    assert got[1].record == got[0].record and got[1].txn == got[0].txn


def test_calendar_days_keep_their_edge(engine: Engine) -> None:
    """Walking is one count per Asia/Shanghai day: a report a minute after midnight is the next day's."""
    apps = make_apps(engine)
    midnight = shanghai(2026, 3, 10, 0)
    got = ingest(
        engine,
        apps.a,
        [
            rec(apps.account, "d1", "walking", midnight - 30, 5000),
            rec(apps.account, "d2", "walking", midnight + 30, 5000),
        ],
        NOW,
    )
    assert [(o.status, o.points) for o in got] == [("credited", 100), ("credited", 100)]
    assert _parsed(engine, rec(apps.account, "d", "walking", midnight, 5000)).key2 is None


def _chain(account: str, exit_station: str = "B") -> list[dict[str, Any]]:
    """S and F share a second key, F and P a key, S and P nothing (keys do not chain). S is a metro
    trip (468 points), F and P tickets (274)."""
    return [
        _trip(account, "S", TEN - 10, "metro", exit_station),  # 09:59:50: key 09:50, second key 10:00
        _trip(account, "F", TEN + 20, "metro-ticket", exit_station),  # key 10:00, second key 10:00
        _trip(account, "P", TEN + 310, "metro-ticket", exit_station),  # 10:05:10: key 10:00, no second key
    ]


@pytest.mark.parametrize("db", ["engine", "pg_engine"])
def test_a_chain_is_decided_in_order_in_one_batch_or_in_three(db: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(db)
    apps = make_apps(engine)
    s, f, p = _chain(apps.account)
    one = ingest(engine, apps.a, [s, f, p], NOW)
    # S credited; F repeats S; P repeats only F, which was not credited: P is a behaviour of its own
    assert [o.status for o in one] == ["credited", "duplicate", "credited"]
    s, f, p = ({**r, "id": r["id"] + "-2"} for r in _chain(apps.account, "C"))  # another trip
    three = [ingest(engine, apps.a, [r], NOW)[0] for r in (s, f, p)]
    assert [o.status for o in three] == ["credited", "duplicate", "credited"]


def test_a_batch_losing_its_first_report_to_a_concurrent_batch_decides_the_chain_again(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch X stores S and waits before committing; batch Y reads (not seeing S), credits F, takes P
    for F's duplicate and writes: F's second key meets S's and F is not stored. P shares no key with
    S: as if X had come first, P is credited, not left a duplicate of a credit that never was."""
    apps = make_apps(pg_engine)
    s, f, p = _chain(apps.account)
    written, release = threading.Event(), threading.Event()
    write = ingest_module._Postgres.write

    def slow_write(self: Any, *args: Any) -> set[str]:
        lost = write(self, *args)
        if threading.current_thread().name == "X":
            written.set()
            release.wait(10)
        return lost

    monkeypatch.setattr(ingest_module._Postgres, "write", slow_write)
    got: dict[str, list[Any]] = {}
    x = threading.Thread(target=lambda: got.setdefault("X", ingest(pg_engine, apps.a, [s], NOW)), name="X")
    x.start()
    assert written.wait(10)

    def y() -> None:
        got["Y"] = ingest(pg_engine, apps.b, [f, p], NOW)

    t = threading.Thread(target=y, name="Y")
    t.start()
    time.sleep(1.0)  # Y has read (S not committed) and waits at its write for X
    release.set()
    x.join(30)
    t.join(30)
    (xs,) = got["X"]
    yf, yp = got["Y"]
    assert (xs.status, yf.status, yp.status) == ("credited", "duplicate", "credited")
    assert (yf.record, yf.txn) == (xs.record, xs.txn)
    assert ledger.balance(pg_engine, apps.account, NOW) == 468 + 274
    assert ledger.audit(pg_engine) == []


def test_two_apps_at_once_straddling_a_boundary_credit_each_trip_once(pg_engine: Engine) -> None:
    """Metro by one app, metro-ticket by another (separate cap counters, so the batches do not queue
    on them and meet at the write)."""
    apps: Apps = make_apps(pg_engine)
    credited = 0
    for round_ in range(4):  # four hours before: not in the future, and under both daily caps
        t = TEN - round_ * 3600
        a = _trip(apps.account, f"a{round_}", t - 5, "metro", f"B{round_}")
        b = _trip(apps.account, f"b{round_}", t + 5, "metro-ticket", f"B{round_}")
        got = _race(
            pg_engine, [partial(ingest, pg_engine, apps.a, [a], NOW), partial(ingest, pg_engine, apps.b, [b], NOW)]
        )
        assert sorted(g[0].status for g in got) == ["credited", "duplicate"]
        assert got[0][0].record == got[1][0].record
        credited += sum(g[0].points for g in got)
    assert credited in range(4 * 274, 4 * 468 + 1) and ledger.balance(pg_engine, apps.account, NOW) == credited
    with pg_engine.connect() as conn:
        stored = conn.execute(select(BEHAVIOUR_RECORDS.c.key2)).scalars().all()
    assert len(stored) == 4 and all(k is not None for k in stored)
    assert ledger.audit(pg_engine) == []
