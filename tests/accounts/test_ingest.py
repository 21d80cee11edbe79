"""Ingest on SQLite: the Hubei rule (one behaviour earns once across apps), caps at their
boundaries (Asia/Shanghai days and years), bad records refused one by one, retries exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from accounts import ledger
from accounts.errors import BatchTooLargeError, InputError
from accounts.ingest import MAX_BATCH, RecordOutcome, ingest
from accounts.ledger_models import ENTRIES
from accounts.models import BEHAVIOUR_RECORDS
from tests.accounts.conftest import Apps
from tests.accounts.test_methodology import shanghai

NOW = shanghai(2026, 3, 10, 12)


def rec(account: str, rid: str, kind: str, at: object, quantity: object, **identity: object) -> dict[str, Any]:
    return {"id": rid, "account": account, "type": kind, "occurred_at": at, "quantity": quantity, "identity": identity}


def ride(account: str, rid: str, at: object, km: object, bike: str) -> dict[str, Any]:
    return rec(account, rid, "cycling", at, km, bike_id=bike)


def summary(outcomes: list[RecordOutcome]) -> list[tuple[str, int, str | None]]:
    return [(o.status, o.points, o.code) for o in outcomes]


def entries(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ENTRIES)).scalar_one())


def test_the_same_trip_reported_by_two_apps_earns_once(apps: Apps) -> None:
    at = shanghai(2026, 3, 10, 8, 1, 30)
    # the transit card reports it by distance, the city app by ticket, 40 s later: one metro trip
    by_card = rec(apps.account, "tft-1", "metro", at, "12.5", entry_station="天府广场", exit_station="春熙路")
    by_app = rec(apps.account, "alipay-77", "metro-ticket", at + 40, 1, entry_station="天府广场", exit_station="春熙路")
    first = ingest(apps.engine, apps.a, [by_card], NOW)
    # 12.5 pkm × 46.8 g/pkm = 585 g = 585 points (Shenzhen factor, 1 point = 1 g)
    assert summary(first) == [("credited", 585, None)]
    second = ingest(apps.engine, apps.b, [by_app], NOW)
    assert summary(second) == [("duplicate", 0, None)]
    assert second[0].record == first[0].record and second[0].txn == first[0].txn
    assert ledger.balance(apps.engine, apps.account, NOW) == 585
    assert entries(apps.engine) == 2  # one credit: source −585, person +585
    # another trip the same morning is another behaviour
    later = rec(
        apps.account, "alipay-78", "metro-ticket", at + 3600, 1, entry_station="春熙路", exit_station="天府广场"
    )
    assert summary(ingest(apps.engine, apps.b, [later], NOW)) == [("credited", 274, None)]


def test_a_retried_batch_answers_the_same_and_posts_nothing_new(apps: Apps) -> None:
    at = shanghai(2026, 3, 10, 9)
    batch = [
        ride(apps.account, "r1", at, "2", "bike-1"),
        rec(apps.account, "bad", "teleport", at, 1),
        ride(apps.account, "r2", at + 600, "1.5", "bike-2"),
        ride(apps.account, "r2-dup", at + 600, "1.5", "bike-2"),  # the same ride, resent under another id
    ]
    first = ingest(apps.engine, apps.a, batch, NOW)
    # 2 km × 200 g = 400; 1.5 km × 200 g = 300 (illustrative factor)
    assert summary(first) == [
        ("credited", 400, None),
        ("refused", 0, "unknown_type"),
        ("credited", 300, None),
        ("duplicate", 0, None),
    ]
    assert first[0].illustrative
    n = entries(apps.engine)
    again = ingest(apps.engine, apps.a, batch, NOW + 5)
    assert again == first
    assert entries(apps.engine) == n and ledger.balance(apps.engine, apps.account, NOW) == 700


def test_bad_records_are_refused_each_with_its_reason_and_the_rest_applied_once(apps: Apps) -> None:
    at = shanghai(2026, 3, 10, 10)
    acc = apps.account
    batch: list[Any] = [
        ride(acc, "ok-1", at, "1", "bike-1"),
        rec(acc, "unknown", "rocket", at, 1),
        ride(acc, "future", NOW + 301, "1", "bike-2"),  # 1 s beyond the 300 s skew allowed
        ride(acc, "skew-ok", NOW + 300, "1", "bike-3"),  # exactly at the skew allowed
        ride(acc, "ok-1-again", at + 30, "1", "bike-1"),  # the same ride within its 300 s bucket
        "not an object",
        {"id": "no-type", "account": acc, "occurred_at": at, "quantity": 1, "identity": {}},
        ride(acc, "neg", at, "-1", "bike-4"),
        ride(acc, "nan", at, "NaN", "bike-4"),
        ride(acc, "bool", at, True, "bike-4"),
        rec(acc, "no-bike", "cycling", at, "1"),
        ride("acc_nobody", "bad-acc", at, "1", "bike-5"),
        ride("acc_" + "a" * 26, "ghost", at, "1", "bike-5"),
        {**ride(acc, "extra", at, "1", "bike-6"), "gps_track": [[30.6, 104.0]]},
        ride(acc, "tiny", at, "0.001", "bike-7"),  # 0.2 g: less than a point
        ride(acc, "iso", "2026-03-10T02:00:00Z", "0.5", "bike-8"),  # RFC 3339 (10:00 Asia/Shanghai)
        ride(acc, "iso-naive", "2026-03-10T02:00:00", "0.5", "bike-9"),  # no offset: ambiguous
    ]
    got = ingest(apps.engine, apps.a, batch, NOW)
    assert [(o.index, o.id, o.status, o.points, o.code) for o in got] == [
        (0, "ok-1", "credited", 200, None),
        (1, "unknown", "refused", 0, "unknown_type"),
        (2, "future", "refused", 0, "future"),
        (3, "skew-ok", "credited", 200, None),
        (4, "ok-1-again", "duplicate", 0, None),
        (5, None, "refused", 0, "malformed"),
        (6, "no-type", "refused", 0, "malformed"),
        (7, "neg", "refused", 0, "malformed"),
        (8, "nan", "refused", 0, "malformed"),
        (9, "bool", "refused", 0, "malformed"),
        (10, "no-bike", "refused", 0, "malformed"),
        (11, "bad-acc", "refused", 0, "malformed"),
        (12, "ghost", "refused", 0, "unknown_account"),
        (13, "extra", "refused", 0, "malformed"),
        (14, "tiny", "refused", 0, "below_one_point"),
        (15, "iso", "credited", 100, None),
        (16, "iso-naive", "refused", 0, "malformed"),
    ]
    for o in got:
        if o.status == "refused":
            assert o.reason and "\n" not in o.reason
    assert "gps_track" in (got[13].reason or "")  # names the field, not its content
    assert ledger.balance(apps.engine, apps.account, NOW) == 500
    assert ingest(apps.engine, apps.a, batch, NOW) == got  # and once more: nothing new


def test_an_id_reused_for_another_behaviour_is_refused(apps: Apps) -> None:
    at = shanghai(2026, 3, 10, 10)
    ingest(apps.engine, apps.a, [ride(apps.account, "r1", at, "1", "bike-1")], NOW)
    got = ingest(apps.engine, apps.a, [ride(apps.account, "r1", at + 3600, "1", "bike-2")], NOW)
    assert summary(got) == [("refused", 0, "id_reused")]


def test_an_oversize_batch_is_refused_whole(apps: Apps) -> None:
    at = shanghai(2026, 3, 10, 10)
    batch = [ride(apps.account, f"r{i}", at - 300 * i, "0.01", f"b{i}") for i in range(MAX_BATCH + 1)]
    with pytest.raises(BatchTooLargeError, match="at most 1000"):
        ingest(apps.engine, apps.a, batch, NOW)
    assert entries(apps.engine) == 0
    assert len(ingest(apps.engine, apps.a, batch[:MAX_BATCH], NOW)) == MAX_BATCH  # 1,000 is allowed


def test_the_daily_cap_at_its_boundaries(apps: Apps) -> None:
    """Cycling: 200 g/km, daily cap 1,000 points (both illustrative)."""
    acc = apps.account
    day = shanghai(2026, 3, 9)
    got = ingest(
        apps.engine,
        apps.a,
        [
            ride(acc, "r1", day + 8 * 3600, "3", "b1"),  # 600 points, 600 of 1,000 used
            ride(acc, "r2", day + 9 * 3600, "2", "b2"),  # 400: reaches the cap exactly, in full
            ride(acc, "r3", day + 10 * 3600, "0.5", "b3"),  # 100: past the cap → refused
            ride(acc, "r4", day + 86400 - 1, "0.5", "b4"),  # 23:59:59 the same day → refused
            ride(acc, "r5", day + 86400, "0.5", "b5"),  # 00:00:00 Asia/Shanghai next day → a new day
        ],
        NOW,
    )
    assert summary(got) == [
        ("credited", 600, None),
        ("credited", 400, None),
        ("refused", 0, "cap_reached"),
        ("refused", 0, "cap_reached"),
        ("credited", 100, None),
    ]
    assert not got[1].capped and "daily" in (got[2].reason or "")
    # the next day: 100 used, a 4.6 km ride (920) would pass the cap by 20 → credited 900, capped
    more = ingest(apps.engine, apps.a, [ride(acc, "r6", day + 86400 + 3600, "4.6", "b6")], NOW)
    assert summary(more) == [("credited", 900, None)] and more[0].capped
    assert ledger.balance(apps.engine, acc, NOW) == 600 + 400 + 100 + 900


def test_the_yearly_cap_at_its_boundaries(apps: Apps) -> None:
    """Hotel stays: 100 points a night, daily cap 100, yearly cap 3,650 (illustrative)."""
    acc = apps.account

    def night(i: int, at: int) -> dict[str, Any]:
        return rec(acc, f"n{i}", "hotel-stay", at, 1, hotel="锦江宾馆", room="1208")

    start = shanghai(2025, 11, 20, 22)  # one night a day from 20 Nov 2025
    nights = [night(i, start + i * 86400) for i in range(38)]
    got = ingest(apps.engine, apps.a, nights, NOW)
    # 36 nights × 100 = 3,600; the 37th has 3,650 − 3,600 = 50 left (capped); the 38th none.
    # The 38th night is 20 Nov + 37 days = 27 Dec: every night falls in 2025 (Asia/Shanghai)
    assert [o.points for o in got] == [100] * 36 + [50, 0]
    assert got[36].capped and (got[37].code, "yearly" in (got[37].reason or "")) == ("cap_reached", True)
    # the last second of 2025 in Asia/Shanghai is still 2025; 00:00 on 1 January 2026 is a new year
    edge = ingest(
        apps.engine,
        apps.a,
        [night(100, shanghai(2025, 12, 31, 23, 59, 59)), night(101, shanghai(2026, 1, 1, 0, 0, 0))],
        NOW,
    )
    assert summary(edge) == [("refused", 0, "cap_reached"), ("credited", 100, None)]


def test_records_need_live_consent_for_their_data_kind(engine: Engine) -> None:
    from tests.accounts.conftest import make_apps

    apps = make_apps(engine, kinds=("transit",))  # no consent for cycling
    at = shanghai(2026, 3, 10, 10)
    got = ingest(engine, apps.a, [ride(apps.account, "r1", at, "1", "b1")], NOW)
    assert summary(got) == [("refused", 0, "no_consent")] and "cycling" in (got[0].reason or "")


def test_deleted_details_keep_the_behaviour_from_earning_twice(apps: Apps) -> None:
    from accounts.people import delete_account

    at = shanghai(2026, 3, 10, 10)
    ingest(apps.engine, apps.a, [ride(apps.account, "r1", at, "1", "b1")], NOW)
    delete_account(apps.engine, apps.account, NOW)
    with apps.engine.connect() as conn:
        row = conn.execute(select(BEHAVIOUR_RECORDS)).one()
    assert (row.occurred_at, row.quantity, row.points) == (None, None, 200)


def test_credits_expire_after_the_configured_period(apps: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    at = shanghai(2026, 3, 10, 10)
    ingest(apps.engine, apps.a, [ride(apps.account, "r1", at, "1", "b1")], NOW)  # default: 3,652 days
    monkeypatch.setenv("LEDGER_ACCOUNTS_POINTS_VALID_DAYS", "30")
    ingest(apps.engine, apps.a, [ride(apps.account, "r2", at + 600, "2", "b2")], NOW)
    with apps.engine.connect() as conn:
        lapse = conn.execute(select(ENTRIES.c.amount, ENTRIES.c.expires_at).where(ENTRIES.c.amount > 0)).all()
    assert sorted(lapse) == [(200, NOW + 3652 * 86400), (400, NOW + 30 * 86400)]
    # 200 + 400 until the 30th day; at its last second's end the 400 lapse, the 200 stay
    assert ledger.balance(apps.engine, apps.account, NOW + 30 * 86400 - 1) == 600
    assert ledger.balance(apps.engine, apps.account, NOW + 30 * 86400) == 200
    monkeypatch.setenv("LEDGER_ACCOUNTS_POINTS_VALID_DAYS", "3653")  # over ten years: refused, nothing posted
    with pytest.raises(InputError, match="10 years"):
        ingest(apps.engine, apps.a, [ride(apps.account, "r3", at + 1200, "1", "b3")], NOW)


def test_a_retry_after_consent_is_withdrawn_answers_its_first_outcome(apps: Apps) -> None:
    from accounts.people import revoke_consent

    at = shanghai(2026, 3, 10, 10)
    first = ingest(apps.engine, apps.a, [ride(apps.account, "r1", at, "1", "b1")], NOW)
    revoke_consent(apps.engine, apps.a, apps.account, "cycling", NOW + 1)
    batch = [ride(apps.account, "r1", at, "1", "b1"), ride(apps.account, "r2", at + 900, "1", "b2")]
    again = ingest(apps.engine, apps.a, batch, NOW + 2)
    assert again[0] == first[0]  # the credit made while consent was live, answered again, not re-posted
    assert (again[1].status, again[1].code) == ("refused", "no_consent")  # a new record needs consent
    assert ledger.balance(apps.engine, apps.account, NOW) == 200 and entries(apps.engine) == 2


def test_the_behaviour_key_is_the_hash_of_canonical_json() -> None:
    from accounts.ingest import behaviour_key
    from accounts.methodology import shipped
    from chain.canonical import canonical_json, sha256_hex

    metro = next(b for b in shipped() if b.type == "metro")
    at = shanghai(2026, 3, 10, 8, 7, 59)  # in the 08:00-08:10 bucket (600 s)
    for fields in (
        {"entry_station": "天府广场", "exit_station": '春熙路 "B" \\ \u2028'},
        {"exit_station": "b", "entry_station": "a\t"},
    ):
        doc = {"account": "acc_" + "a" * 26, "group": "metro-trip", "fields": fields, "at": shanghai(2026, 3, 10, 8)}
        assert behaviour_key("acc_" + "a" * 26, metro, fields, at) == sha256_hex(canonical_json(doc))
