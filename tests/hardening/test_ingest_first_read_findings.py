"""Reused record ids on PostgreSQL against SQLite: each sequence of batches runs on both and must
answer the same outcomes, credit each behaviour once, keep the cap counters right and the ledger's
audit empty. Written (2026-12-01) against a first read of stored records by key only, which left a
reused id to the write's unique (source, id) and `_settle`: tests marked FOUND failed on it (one lost
a credit for good, others answered `duplicate` or an account refusal where SQLite says `id_reused`),
so the change was undone; the batch's first read is by key and by id again."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, select

from accounts import ledger
from accounts.ingest import RecordOutcome, ingest
from accounts.methodology import day_of
from accounts.models import CAP_COUNTERS
from accounts.people import delete_account, revoke_consent
from tests.accounts.conftest import Apps, _data_key, engine, make_apps, pg_engine  # noqa: F401  # fixtures
from tests.accounts.test_ingest import NOW, rec, ride, summary
from tests.accounts.test_ingest_pg import _race
from tests.accounts.test_methodology import shanghai

AT = shanghai(2026, 3, 10, 9)
DAY = 86_400


def _both(engine: Engine, pg_engine: Engine) -> list[tuple[Engine, Apps]]:  # noqa: F811
    return [(db, make_apps(db)) for db in (engine, pg_engine)]


def _counters(db: Engine) -> dict[tuple[str, str, str], int]:
    k = CAP_COUNTERS.c
    with db.connect() as conn:
        return {(a, t, d): int(n) for a, t, d, n in conn.execute(select(k.account_id, k.type, k.period, k.points))}


def _strip(outcomes: list[RecordOutcome]) -> list[tuple[Any, ...]]:
    """Outcomes without the random transaction names and the account-dependent keys."""
    return [(o.index, o.id, o.status, o.points, o.code, o.capped, o.txn is not None) for o in outcomes]


# ---------------------------------------------------------------------------------------------------
# one batch at a time: PostgreSQL must answer as SQLite


@pytest.mark.parametrize("second", ["cycling", "metro-ticket"])
def test_a_reused_id_and_a_new_id_for_the_same_behaviour_in_one_batch_credit_it_once(
    engine: Engine,  # noqa: F811
    pg_engine: Engine,  # noqa: F811
    second: str,
) -> None:
    """FOUND against the key-only first read (PostgreSQL loses a credit). r1 was used for ride b1; a batch then carries r1 for ride
    b9 (id_reused) and, after it, a fresh id rX for that same ride b9 (or, for metro, the same trip by
    ticket, one identity group). SQLite refuses r1 and credits rX. PostgreSQL's first read misses r1
    (by key only), credits r1, answers rX a duplicate of it (same key, credited_here); the write skips
    r1 (unique source and id), the key comes back lost and `_settle` answers every record of the batch
    whose `record` is that key, rX too: by_id has no rX, so rX becomes a duplicate of a behaviour that
    was never stored (txn None). Nothing credits b9, and a retry of the batch repeats it."""
    results = []
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        if second == "cycling":
            first = ride(acc, "r1", AT, "3", "b1")
            reused = ride(acc, "r1", AT + 3600, "2", "b9")
            fresh = ride(acc, "rX", AT + 3600, "2", "b9")
        else:
            first = rec(acc, "r1", "metro", AT, "10", entry_station="A", exit_station="B")
            reused = rec(acc, "r1", "metro", AT + 3600, "10", entry_station="C", exit_station="D")
            fresh = rec(acc, "rX", "metro-ticket", AT + 3630, 1, entry_station="C", exit_station="D")
        ingest(db, apps.a, [first], NOW)
        got = ingest(db, apps.a, [reused, fresh], NOW)
        again = ingest(db, apps.a, [reused, fresh], NOW + 1)
        results.append((db.dialect.name, summary(got), summary(again), ledger.balance(db, acc, NOW)))
        assert ledger.audit(db) == []
    (_, sqlite_got, sqlite_again, sqlite_balance), (_, pg_got, pg_again, pg_balance) = results
    assert sqlite_got[0] == ("refused", 0, "id_reused")
    assert sqlite_got[1][0] == "credited"
    assert pg_got == sqlite_got
    assert pg_again == sqlite_again
    assert pg_balance == sqlite_balance


def test_the_batch_with_the_lost_credit_leaves_consistent_counters(engine: Engine, pg_engine: Engine) -> None:  # noqa: F811
    """The counters after a batch [r1 reused for b9, rX for b9] must agree with what was credited on
    each database: the day's room left must equal 1,000 minus the day's credits (checked by a
    follow-up ride that asks for the whole cap)."""
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        ingest(db, apps.a, [ride(acc, "r1", AT, "1", "b1")], NOW)  # 200
        ingest(db, apps.a, [ride(acc, "r1", AT + 60, "2", "b9"), ride(acc, "rX", AT + 60, "2", "b9")], NOW)
        credited_today = ledger.balance(db, acc, NOW)
        day = next(k for k in _counters(db) if k[2] == "d2026-03-10")
        assert _counters(db)[day] == credited_today, db.dialect.name
        last = ingest(db, apps.a, [ride(acc, "rZ", AT + 120, "5", "bz")], NOW)
        assert summary(last) == [("credited", 1000 - credited_today, None)], db.dialect.name
        assert ledger.balance(db, acc, NOW) == 1000
        assert ledger.audit(db) == []


def test_a_reused_id_for_a_behaviour_another_app_credited_answers_as_on_sqlite(
    engine: Engine,  # noqa: F811
    pg_engine: Engine,  # noqa: F811
) -> None:
    """FOUND against the key-only first read (outcome code differs, no points at stake). r1 (app a) holds ride b1; app b credited
    ride b9. App a then sends r1 for b9. SQLite reads r1 by id: id_reused. PostgreSQL's first read
    (by key) finds b9 stored by app b only, so r1 is answered a duplicate (never reaching the write,
    so `_settle` never corrects it). The source is told "duplicate" where it reused an id."""
    results = []
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        ingest(db, apps.a, [ride(acc, "r1", AT, "1", "b1")], NOW)
        ingest(db, apps.b, [ride(acc, "other", AT + 600, "1", "b9")], NOW)
        results.append(summary(ingest(db, apps.a, [ride(acc, "r1", AT + 600, "1", "b9")], NOW)))
        assert ledger.balance(db, acc, NOW) == 400
        assert ledger.audit(db) == []
    assert results[0] == [("refused", 0, "id_reused")]
    assert results[1] == results[0]


def test_a_new_id_then_a_reused_id_for_the_same_behaviour_answer_as_on_sqlite(
    engine: Engine,  # noqa: F811
    pg_engine: Engine,  # noqa: F811
) -> None:
    """FOUND against the key-only first read (outcome code differs, no points at stake). Batch [rX for b9, r1 for b9] with r1 used
    before for b1: SQLite credits rX and refuses r1 id_reused; PostgreSQL answers r1 a duplicate of
    rX (its id was not read, its key was credited just before in the batch)."""
    results = []
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        ingest(db, apps.a, [ride(acc, "r1", AT, "1", "b1")], NOW)
        batch = [ride(acc, "rX", AT + 600, "1", "b9"), ride(acc, "r1", AT + 600, "1", "b9")]
        got = ingest(db, apps.a, batch, NOW)
        assert ingest(db, apps.a, batch, NOW + 1) == got
        results.append(summary(got))
        assert ledger.balance(db, acc, NOW) == 400
        assert ledger.audit(db) == []
    assert results[0] == [("credited", 200, None), ("refused", 0, "id_reused")]
    assert results[1] == results[0]


@pytest.mark.parametrize("gone", ["deleted", "revoked"])
def test_a_reused_id_for_a_gone_account_answers_as_on_sqlite(
    engine: Engine,  # noqa: F811
    pg_engine: Engine,  # noqa: F811
    gone: str,
) -> None:
    """FOUND against the key-only first read (outcome code differs, no points at stake). r1 was credited; then the account is
    deleted (or its cycling consent revoked) and r1 comes back for another ride. SQLite reads r1 by
    id, treats it as `retried` (no account check) and answers id_reused; PostgreSQL's first read
    misses it, `_check_accounts` refuses it deleted_account / no_consent. In the same batch, a
    genuine resend of r1's first ride must still answer its first outcome on both."""
    results = []
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        first = ride(acc, "r1", AT, "1", "b1")
        ingest(db, apps.a, [first], NOW)
        if gone == "deleted":
            delete_account(db, acc, NOW)
        else:
            revoke_consent(db, apps.a, acc, "cycling", NOW)
        alone = summary(ingest(db, apps.a, [ride(acc, "r1", AT + 600, "1", "b9")], NOW))
        with_resend = summary(ingest(db, apps.a, [ride(acc, "r1", AT + 600, "1", "b9"), first], NOW))
        results.append((alone, with_resend))
        assert ledger.audit(db) == []
    assert results[0] == ([("refused", 0, "id_reused")], [("refused", 0, "id_reused"), ("credited", 200, None)])
    assert results[1] == results[0]


def test_a_reused_id_at_the_exact_daily_cap_boundary(engine: Engine, pg_engine: Engine) -> None:  # noqa: F811
    """600 of the day's 1,000 used. [r1 reused (400 wanted), r4 (400 wanted)]: r4 fills the cap to
    exactly 1,000, uncapped; then a 1-point-worth ride is cap_reached, on both databases."""
    results = []
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        ingest(db, apps.a, [ride(acc, "r1", AT, "3", "b1")], NOW)
        batch = [ride(acc, "r1", AT + 600, "2", "b9"), ride(acc, "r4", AT + 1200, "2", "b4")]
        got = ingest(db, apps.a, batch, NOW)
        assert ingest(db, apps.a, batch, NOW + 1) == got
        after = ingest(db, apps.a, [ride(acc, "r5", AT + 1800, "0.005", "b5")], NOW)
        results.append((_strip(got), summary(after), ledger.balance(db, acc, NOW), sorted(_counters(db).values())))
        assert ledger.audit(db) == []
    assert results[0][0] == [
        (0, "r1", "refused", 0, "id_reused", False, False),
        (1, "r4", "credited", 400, None, False, True),
    ]
    assert results[0][1] == [("refused", 0, "cap_reached")]
    assert results[1] == results[0]


def test_a_reused_id_at_the_exact_yearly_cap_boundary(engine: Engine, pg_engine: Engine) -> None:  # noqa: F811
    """Cycling's yearly cap is 100,000: 99 days of 1,000 use 99,000. Then, on new days, r1 reused
    (600 wanted, day 100) and ra (400 wanted, day 101): no cap cuts either, so the write refuses r1
    and gives its 600 back; ra brings the year to 99,400. A 5 km ride on day 102 is then capped at
    600, and one more is cap_reached (yearly), on both databases."""
    start = shanghai(2025, 1, 1, 9)
    results = []
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        fill = [ride(acc, f"f{i}", start + i * DAY, "5", f"f{i}") for i in range(99)]
        ingest(db, apps.a, fill, NOW)
        ingest(db, apps.a, [ride(acc, "r1", start + 99 * DAY, "1", "b1")], NOW)  # the year at 99,200
        batch = [ride(acc, "r1", start + 99 * DAY + 600, "3", "b9"), ride(acc, "ra", start + 100 * DAY, "2", "ba")]
        got = ingest(db, apps.a, batch, NOW)
        assert ingest(db, apps.a, batch, NOW + 1) == got
        cut = ingest(db, apps.a, [ride(acc, "rb", start + 101 * DAY, "5", "bb")], NOW)
        none = ingest(db, apps.a, [ride(acc, "rc", start + 102 * DAY, "1", "bc")], NOW)
        results.append((summary(got), summary(cut), cut[0].capped, summary(none), ledger.balance(db, acc, NOW)))
        assert _counters(db)[(acc, "cycling", "y2025")] == 100_000
        assert ledger.audit(db) == []
    assert results[0] == (
        [("refused", 0, "id_reused"), ("credited", 400, None)],
        [("credited", 400, None)],
        True,
        [("refused", 0, "cap_reached")],
        100_000,
    )
    assert results[1] == results[0]


def test_a_reused_id_whose_stored_record_a_capped_record_repeats(engine: Engine, pg_engine: Engine) -> None:  # noqa: F811
    """r1 holds b1 (600). Batch [r1 for b9 (600 wanted), r1 for b1 again (a resend), r6 (600 wanted)]:
    r1/b9 is id_reused, the resend answers its first outcome, r6 is capped at 400."""
    results = []
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        ingest(db, apps.a, [ride(acc, "r1", AT, "3", "b1")], NOW)
        batch = [
            ride(acc, "r1", AT + 600, "3", "b9"),
            ride(acc, "r1", AT, "3", "b1"),
            ride(acc, "r6", AT + 1200, "3", "b6"),
        ]
        got = ingest(db, apps.a, batch, NOW)
        assert ingest(db, apps.a, batch, NOW + 1) == got
        results.append((_strip(got), ledger.balance(db, acc, NOW)))
        assert ledger.audit(db) == []
    assert results[0] == (
        [
            (0, "r1", "refused", 0, "id_reused", False, False),
            (1, "r1", "credited", 600, None, False, True),
            (2, "r6", "credited", 400, None, True, True),
        ],
        1000,
    )
    assert results[1] == results[0]


def test_many_reused_ids_in_one_batch_free_all_their_room(engine: Engine, pg_engine: Engine) -> None:  # noqa: F811
    """Ten ids used the day before (filling that day's 1,000) are reused today for ten new rides,
    before ten rides under new ids: 2,000 wanted of today's 1,000. The reused are id_reused, the new
    ten credited 100 each (today exactly at its cap), and a later ride is cap_reached."""
    results = []
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        ingest(db, apps.a, [ride(acc, f"r{i}", AT - DAY + i * 60, "0.5", f"old{i}") for i in range(10)], NOW)
        reused = [ride(acc, f"r{i}", AT + i * 60, "0.5", f"new{i}") for i in range(10)]
        fresh = [ride(acc, f"n{i}", AT + 1000 + i * 60, "0.5", f"fresh{i}") for i in range(10)]
        got = ingest(db, apps.a, reused + fresh, NOW)
        assert ingest(db, apps.a, reused + fresh, NOW + 1) == got
        more = ingest(db, apps.a, [ride(acc, "late", AT + 5000, "5", "late")], NOW)
        results.append((summary(got), summary(more), ledger.balance(db, acc, NOW)))
        assert ledger.audit(db) == []
    assert results[0] == (
        [("refused", 0, "id_reused")] * 10 + [("credited", 100, None)] * 10,
        [("refused", 0, "cap_reached")],
        2000,
    )
    assert results[1] == results[0]


# ---------------------------------------------------------------------------------------------------
# concurrent batches on PostgreSQL


def test_a_reused_id_racing_a_new_id_for_the_same_ride(pg_engine: Engine) -> None:  # noqa: F811
    """FOUND against the key-only first read (a resend answers another outcome). r1 holds b1. At once: batch A sends r1 for b9 (id
    reuse), batch B sends rX for b9. The race itself is right (r1 id_reused, rX credited, b9 once),
    but resending A then answers r1 a duplicate (of rX's b9, found by key) instead of its first
    outcome id_reused: the deterministic form is the next test."""
    apps = make_apps(pg_engine)
    acc = apps.account
    for round_ in range(5):
        t = AT - round_ * DAY
        ingest(pg_engine, apps.a, [ride(acc, f"r1-{round_}", t, "1", f"b1-{round_}")], NOW)
        a = [ride(acc, f"r1-{round_}", t + 600, "2", f"b9-{round_}")]
        b = [ride(acc, f"rX-{round_}", t + 600, "2", f"b9-{round_}")]
        got_a, got_b = _race(
            pg_engine, [partial(ingest, pg_engine, apps.a, a, NOW), partial(ingest, pg_engine, apps.a, b, NOW)]
        )
        assert summary(got_a) == [("refused", 0, "id_reused")]
        assert summary(got_b) == [("credited", 400, None)]
        assert ingest(pg_engine, apps.a, a, NOW + 1) == got_a
        assert ingest(pg_engine, apps.a, b, NOW + 1) == got_b
        assert ledger.balance(pg_engine, acc, NOW) == 600 * (round_ + 1)
        assert _counters(pg_engine)[(acc, "cycling", f"d{day_of(t)}")] == 600
    assert ledger.audit(pg_engine) == []


def test_resending_a_reused_id_after_its_ride_was_credited_under_another_id(
    engine: Engine,  # noqa: F811
    pg_engine: Engine,  # noqa: F811
) -> None:
    """FOUND against the key-only first read (a resend answers another outcome than the first; SQLite keeps it). r1 holds b1;
    [r1 for b9] is refused id_reused on both databases; then [rX for b9] is credited; resending
    [r1 for b9] must answer id_reused again (the module: "a retried batch ... answers the same
    outcomes"). PostgreSQL's first read by key finds b9 (stored under rX), not r1, so r1 is answered
    a duplicate without reaching the write, and `_settle` never corrects it."""
    results = []
    for db, apps in _both(engine, pg_engine):
        acc = apps.account
        ingest(db, apps.a, [ride(acc, "r1", AT, "1", "b1")], NOW)
        reuse = [ride(acc, "r1", AT + 600, "2", "b9")]
        first = ingest(db, apps.a, reuse, NOW)
        ingest(db, apps.a, [ride(acc, "rX", AT + 600, "2", "b9")], NOW)
        resent = ingest(db, apps.a, reuse, NOW + 1)
        results.append((summary(first), summary(resent), resent == first, ledger.balance(db, acc, NOW)))
        assert ledger.audit(db) == []
    assert results[0] == ([("refused", 0, "id_reused")], [("refused", 0, "id_reused")], True, 600)
    assert results[1] == results[0]


def test_a_resend_racing_a_batch_reusing_its_ids(pg_engine: Engine) -> None:  # noqa: F811
    """r1 holds b1. At once: batch A resends r1/b1 and brings r2 for b2; batch B reuses r1 for b7
    and brings r2 for b8 (both batches new to r2). The resend answers its first outcome, r1/b7 is
    id_reused, exactly one of r2/b2 and r2/b8 is credited and the other id_reused; the day's counter
    equals the day's credits; resending either batch answers the same and posts nothing."""
    apps = make_apps(pg_engine)
    acc = apps.account
    for round_ in range(6):
        t = AT - round_ * DAY
        first = ride(acc, f"r1-{round_}", t, "1", f"b1-{round_}")
        (one,) = ingest(pg_engine, apps.a, [first], NOW)
        a = [first, ride(acc, f"r2-{round_}", t + 600, "1", f"b2-{round_}")]
        b = [
            ride(acc, f"r1-{round_}", t + 1200, "1", f"b7-{round_}"),
            ride(acc, f"r2-{round_}", t + 1800, "1", f"b8-{round_}"),
        ]
        jobs = [partial(ingest, pg_engine, apps.a, a, NOW), partial(ingest, pg_engine, apps.a, b, NOW)]
        if round_ % 2:
            jobs.reverse()
        got = _race(pg_engine, jobs)
        got_a, got_b = got if round_ % 2 == 0 else got[::-1]
        assert got_a[0] == one
        assert summary(got_b)[0] == ("refused", 0, "id_reused")
        r2 = sorted([summary(got_a)[1], summary(got_b)[1]])
        assert r2 == [("credited", 200, None), ("refused", 0, "id_reused")]
        assert ingest(pg_engine, apps.a, a, NOW + 1) == got_a
        assert ingest(pg_engine, apps.a, b, NOW + 1) == got_b
        assert ledger.balance(pg_engine, acc, NOW) == 400 * (round_ + 1)
        assert _counters(pg_engine)[(acc, "cycling", f"d{day_of(t)}")] == 400
    assert ledger.audit(pg_engine) == []


def test_two_batches_taking_the_same_new_ids_crosswise_for_different_accounts(pg_engine: Engine) -> None:  # noqa: F811
    """Two accounts (no counter shared, so the batches do not queue on a counter), one source; at once
    each account's batch sends ids i1..i6 for its own rides. The records are stored in key order, so
    the two batches take the unique (source, id) entries in unrelated orders: deadlocks are detected
    and the loser recomputed, and a recomputed batch's first read (by key) does not see the winner's
    ids. Each id must end credited exactly once overall and refused id_reused in the other batch, no
    exception, balances and counters equal to the credits, and resends the same."""
    from accounts.people import grant_consent, open_account

    apps = make_apps(pg_engine)
    other = open_account(
        pg_engine, apps.a, NOW, {"name": "李四", "phone": "13900139000", "id_number": "510104199202021234"}
    )
    grant_consent(pg_engine, apps.a, other, "cycling", NOW)
    for round_ in range(6):
        t = AT - round_ * DAY
        batches = [
            [ride(acc, f"i{n}-{round_}", t + n * 60, "0.5", f"{acc[-4:]}-{n}-{round_}") for n in range(6)]
            for acc in (apps.account, other)
        ]
        got = _race(pg_engine, [partial(ingest, pg_engine, apps.a, batch, NOW) for batch in batches])
        for n in range(6):
            pair = sorted([summary(got[0])[n], summary(got[1])[n]])
            assert pair == [("credited", 100, None), ("refused", 0, "id_reused")], (round_, n, pair)
        for batch, outcomes in zip(batches, got, strict=True):
            assert ingest(pg_engine, apps.a, batch, NOW + 1) == outcomes
        for acc, outcomes in zip((apps.account, other), got, strict=True):
            credited = sum(o.points for o in outcomes)
            assert _counters(pg_engine).get((acc, "cycling", f"d{day_of(t)}"), 0) == credited
    total = ledger.balance(pg_engine, apps.account, NOW) + ledger.balance(pg_engine, other, NOW)
    assert total == 6 * 100 * 6
    assert ledger.audit(pg_engine) == []


def test_two_batches_reusing_the_same_stored_ids_for_different_rides_at_the_cap(pg_engine: Engine) -> None:  # noqa: F811
    """r1..r3 hold rides of yesterday. At once, two batches of one account reuse r1..r3 for new rides
    of today (600 wanted each) and each brings a new ride of its own (600 wanted): the reused are
    id_reused in both, the two new rides share today's 1,000 (600 and 400 capped, whichever first)."""
    apps = make_apps(pg_engine)
    acc = apps.account
    ingest(pg_engine, apps.a, [ride(acc, f"r{n}", AT - DAY + n * 60, "1", f"old{n}") for n in range(3)], NOW)
    batches = [
        [ride(acc, f"r{n}", AT + n * 60 + k * 600, "3", f"new{k}-{n}") for n in range(3)]
        + [ride(acc, f"own{k}", AT + 3000 + k * 60, "3", f"own{k}")]
        for k in range(2)
    ]
    got = _race(pg_engine, [partial(ingest, pg_engine, apps.a, batch, NOW) for batch in batches])
    for outcomes in got:
        assert summary(outcomes)[:3] == [("refused", 0, "id_reused")] * 3
    assert sorted(summary(outcomes)[3] for outcomes in got) == [("credited", 400, None), ("credited", 600, None)]
    for batch, outcomes in zip(batches, got, strict=True):
        assert ingest(pg_engine, apps.a, batch, NOW + 1) == outcomes
    assert _counters(pg_engine)[(acc, "cycling", f"d{day_of(AT)}")] == 1000
    assert ledger.balance(pg_engine, acc, NOW) == 600 + 1000
    assert ledger.audit(pg_engine) == []
