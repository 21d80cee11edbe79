"""Hostile pass on behaviour-record ingest (issue 18): each test here failed before its fix."""

from __future__ import annotations

import pytest
from psycopg import errors as pg_errors
from sqlalchemy import Engine

import accounts.ingest as ingest_module
from accounts.errors import ConflictError
from accounts.ingest import ingest
from accounts.methodology import import_rows
from tests.accounts.conftest import Apps, _data_key, engine, make_apps, pg_engine  # noqa: F401  # fixtures
from tests.accounts.test_ingest import NOW, rec, ride


@pytest.fixture
def apps(request: pytest.FixtureRequest) -> Apps:
    found: Engine = request.getfixturevalue("pg_engine")
    return make_apps(found)


def test_a_deadlock_on_every_attempt_ends_in_conflict_not_the_drivers_error(
    apps: Apps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL. Finding: the eighth deadlock in a row re-raised psycopg's DeadlockDetected (a 500 through the
    API); it now ends in ConflictError like every other lost race, after the same 8 attempts."""
    attempts = []

    def deadlocked(*args: object, **kwargs: object) -> list[ingest_module.RecordOutcome]:
        attempts.append(1)
        raise pg_errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(ingest_module, "_ingest_once", deadlocked)
    with pytest.raises(ConflictError, match="send it again"):
        ingest(
            apps.engine,
            apps.a,
            [rec(apps.account, "m1", "metro", NOW - 60, "1", entry_station="A", exit_station="B")],
            NOW,
        )
    assert len(attempts) == 8


@pytest.fixture(params=["engine", "pg_engine"])
def lite(request: pytest.FixtureRequest) -> Apps:
    """SQLite and PostgreSQL: their reads of the stored records differ."""
    found: Engine = request.getfixturevalue(request.param)
    return make_apps(found)


RECORD_LIST = "account, id, identity, occurred_at, quantity, type"


def _one(apps: Apps, record: dict[str, object]) -> tuple[str, int, str | None]:
    (o,) = ingest(apps.engine, apps.a, [record], NOW)
    return o.status, o.points, o.code


def test_an_integer_identity_field_of_5000_digits_is_refused_not_a_crash(lite: Apps) -> None:
    """Finding: str() of a 5,000-digit int raises ValueError (Python's 4,300-digit limit): the whole
    batch failed (a 500 through the API) instead of one record refused."""
    got = ingest(
        lite.engine,
        lite.a,
        [
            rec(lite.account, "big", "cycling", NOW - 60, "1", bike_id=10**5000),
            ride(lite.account, "ok", NOW - 60, "1", "b1"),
        ],
        NOW,
    )
    assert [(o.status, o.code) for o in got] == [("refused", "malformed"), ("credited", None)]


def test_a_non_string_field_name_of_5000_digits_is_refused_not_a_crash(lite: Apps) -> None:
    record: dict[object, object] = {10**5000: 1}
    record.update(ride(lite.account, "k", NOW - 60, "1", "b1"))
    (o,) = ingest(lite.engine, lite.a, [record], NOW)
    assert (o.status, o.code, o.reason) == (
        "refused",
        "malformed",
        "unknown field(s) <int>; a record has " + RECORD_LIST,
    )


@pytest.mark.parametrize("quantity", ["１２", "1_0", " 2 ", "٣", "2\n"])
def test_a_quantity_is_ascii_decimal_text(lite: Apps, quantity: str) -> None:
    """Finding: Python's Decimal reads full-width and other Unicode digits, underscores and
    surrounding whitespace, so "１２" (full-width) earned 12 km × 200 g = 2,400, capped to 1,000."""
    assert _one(lite, ride(lite.account, "q", NOW - 60, quantity, "b1")) == ("refused", 0, "malformed")


@pytest.mark.parametrize("quantity", ["2", "2.5", "1e0", "2E+0", 2, 2.5, "0.000001e6"])
def test_plain_and_exponent_quantities_still_count(lite: Apps, quantity: object) -> None:
    status, points, _ = _one(lite, ride(lite.account, "q", NOW - 60, quantity, "b1"))
    assert status == "credited" and points == int(200 * float(str(quantity)))  # 200 g per km, 1 point per g


def test_the_same_record_id_with_another_quantity_is_refused_not_answered_as_a_retry(lite: Apps) -> None:
    """Finding: a record id sent again with the same identity but another quantity answered
    "credited" with the first record's points, as if it were a retry: the source was told its 3 km
    ride was credited when 0.5 km had been."""
    first = ride(lite.account, "r1", NOW - 600, "0.5", "bike")
    changed = ride(lite.account, "r1", NOW - 600, "3", "bike")
    got = ingest(lite.engine, lite.a, [first, changed], NOW)
    assert [(o.status, o.points, o.code) for o in got] == [("credited", 100, None), ("refused", 0, "id_reused")]
    assert _one(lite, changed) == ("refused", 0, "id_reused")  # a later batch: the same
    assert _one(lite, first) == ("credited", 100, None)  # the true retry still answers its outcome


def test_the_same_trip_in_full_width_or_padded_text_earns_once(lite: Apps) -> None:
    """Finding: the identity fields were hashed as sent, so one app's "Ａ１" (full-width, as many
    Chinese input methods type it) or "A1 " and another's "A1" were two behaviours and the trip
    earned twice (the Hubei rule broken). Fields are now NFKC-normalised and stripped first."""
    at = NOW - 3600
    a = rec(lite.account, "a1", "metro", at, "10", entry_station="Ａ１", exit_station="B2 ")
    b = rec(lite.account, "b1", "metro", at + 30, "10", entry_station="A1", exit_station="B2")
    (first,) = ingest(lite.engine, lite.a, [a], NOW)
    (second,) = ingest(lite.engine, lite.b, [b], NOW)
    assert (first.status, first.points) == ("credited", 468)  # 10 pkm × 46.8 g
    assert (second.status, second.record) == ("duplicate", first.record)


def test_an_identity_field_of_only_spaces_is_refused(lite: Apps) -> None:
    assert _one(lite, ride(lite.account, "s", NOW - 60, "1", "   ")) == ("refused", 0, "malformed")


def test_a_record_worth_more_than_the_ledgers_largest_posting_is_refused(lite: Apps) -> None:
    """Finding: an imported type without caps at the largest allowed factor (10^9 g per unit) and the
    largest quantity (10^7 units) is worth 10^16 points, past accounts.ledger.MAX_POSTING (10^15).
    SQLite's ledger.post refused it and the whole batch failed; PostgreSQL's batch write stored it.
    Now that record alone is refused, on both."""
    row = "huge,1,cycling,unit,1000000000,,,huge-thing,thing,60,2000-01-01,illustrative: a hostile test row,,true,true,"
    header = (
        "type,version,data_kind,unit,g_per_unit,daily_cap_points,yearly_cap_points,identity_group,"
        "identity_fields,time_bucket_s,valid_from,source,source_url,illustrative,caps_illustrative,note"
    )
    import_rows(lite.engine, f"{header}\n{row}\n", NOW - 10)
    got = ingest(
        lite.engine,
        lite.a,
        [
            rec(lite.account, "h1", "huge", NOW - 60, "10000000", thing="t1"),  # 10^7 × 10^9 g = 10^16
            rec(lite.account, "h2", "huge", NOW - 60, "1000000", thing="t2"),  # 10^6 × 10^9 g = 10^15: the largest
        ],
        NOW,
    )
    assert [(o.status, o.points, o.code) for o in got] == [("refused", 0, "malformed"), ("credited", 10**15, None)]
