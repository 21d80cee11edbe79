"""The behaviour methodology: cited or illustrative rows, points arithmetic, versions in force."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine

from accounts.errors import InputError
from accounts.ingest import ingest
from accounts.methodology import COLUMNS, as_row, day_of, import_rows, load, shipped
from tests.accounts.conftest import T0, Apps


def shanghai(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    from datetime import datetime, timedelta, timezone

    return int(datetime(y, m, d, hh, mm, ss, tzinfo=timezone(timedelta(hours=8))).timestamp())


def test_every_shipped_row_cites_a_source_or_says_illustrative() -> None:
    rows = shipped()
    assert {b.type for b in rows} >= {"metro", "bus", "walking", "cycling"}
    for b in rows:
        assert b.source
        if not b.illustrative:
            assert b.source_url.startswith("http"), b.type  # a cited factor names where it is published
        else:
            assert b.source.startswith("illustrative"), b.type
        assert b.caps_illustrative  # §2 found no published caps: every shipped cap says so


def test_points_are_grams_rounded_down() -> None:
    by_type = {b.type: b for b in shipped()}
    # Shenzhen metro 46.8 g/pkm: 10.5 pkm = 491.4 g → 491 points; e-bus 26.9 g/pkm × 3 = 80.7 → 80
    assert by_type["metro"].points(Decimal("10.5")) == 491
    assert by_type["bus"].points(Decimal("3")) == 80
    # Hubei: 1 step = 0.02 points → 12,345 steps = 246.9 → 246; a ticketed metro trip = 274
    assert by_type["walking"].points(Decimal("12345")) == 246
    assert by_type["metro-ticket"].points(Decimal("1")) == 274


def test_days_are_asia_shanghai_calendar_days() -> None:
    assert day_of(shanghai(2025, 12, 31, 23, 59, 59)) == "2025-12-31"  # 15:59:59 UTC
    assert day_of(shanghai(2026, 1, 1, 0, 0, 0)) == "2026-01-01"  # 16:00:00 UTC the day before


def _v2(**change: str) -> str:
    row = as_row(next(b for b in shipped() if b.type == "metro"))
    row.update({"version": "2", "g_per_unit": "50", "valid_from": "2026-01-01", "source": "illustrative: test"})
    row.update(change)
    return ",".join(COLUMNS) + "\n" + ",".join(f'"{row[c]}"' for c in COLUMNS) + "\n"


def test_an_imported_version_converts_records_from_its_valid_from(apps: Apps) -> None:
    engine = apps.engine
    import_rows(engine, _v2(), T0)
    with engine.connect() as conn:
        metro = load(conn).by_type["metro"]
    assert [(b.version, b.g_per_unit) for b in metro] == [(1, Decimal("46.8")), (2, Decimal("50"))]  # v1 kept

    def trip(rid: str, at: int) -> dict[str, object]:
        ident = {"entry_station": rid, "exit_station": "B"}
        return {
            "id": rid,
            "account": apps.account,
            "type": "metro",
            "occurred_at": at,
            "quantity": "10",
            "identity": ident,
        }

    now = shanghai(2026, 1, 2)
    got = ingest(
        engine, apps.a, [trip("late-2025", shanghai(2025, 12, 31, 23, 59)), trip("new-year", shanghai(2026, 1, 1))], now
    )
    # 10 pkm × 46.8 = 468 under v1 (before 2026-01-01 00:00 Asia/Shanghai); × 50 = 500 under v2
    assert [(o.points, o.type_version) for o in got] == [(468, 1), (500, 2)]


def test_imports_must_be_the_next_version_with_a_later_start(engine: Engine) -> None:
    with pytest.raises(InputError, match="import v2"):
        import_rows(engine, _v2(version="3"), T0)
    with pytest.raises(InputError, match="valid_from"):
        import_rows(engine, _v2(valid_from="1999-01-01"), T0)
    with pytest.raises(InputError, match="identity group"):
        import_rows(engine, _v2(identity_fields="line"), T0)
    with pytest.raises(InputError, match="header"):
        import_rows(engine, "type,version\nmetro,2\n", T0)
    with pytest.raises(InputError, match="g_per_unit"):
        import_rows(engine, _v2(g_per_unit="-1"), T0)
    import_rows(engine, _v2(), T0)
    with pytest.raises(InputError, match="version twice"):
        import_rows(engine, _v2(), T0)


def _moved(valid_from: str) -> str:
    """metro and metro-ticket (one identity group: the same trip) as v2 in a new group."""
    rows = [_v2(identity_group="metro-trip-v2", valid_from=valid_from)]
    ticket = as_row(next(b for b in shipped() if b.type == "metro-ticket"))
    ticket.update({"version": "2", "identity_group": "metro-trip-v2", "valid_from": valid_from})
    rows.append(",".join(COLUMNS) + "\n" + ",".join(f'"{ticket[c]}"' for c in COLUMNS) + "\n")
    return rows[0] + rows[1].split("\n", 1)[1]


def test_a_type_moves_to_another_identity_group_only_from_a_future_start(apps: Apps) -> None:
    """Records already credited were keyed by the old group: a move dated in the past would let the
    same trip, sent again by another app, earn a second time under the new group's key."""
    engine = apps.engine
    now = shanghai(2026, 1, 10)
    trip = {
        "id": "t1",
        "account": apps.account,
        "type": "metro",
        "occurred_at": shanghai(2026, 1, 5, 8),
        "quantity": "10",
        "identity": {"entry_station": "天府广场", "exit_station": "春熙路"},
    }
    [first] = ingest(engine, apps.a, [trip], now)
    assert first.status == "credited"
    with pytest.raises(InputError, match=r"identity group metro-trip to metro-trip-v2.*2026-01-10"):
        import_rows(engine, _moved("2026-01-01"), now)
    [again] = ingest(engine, apps.b, [{**trip, "id": "other-app-1"}], now + 60)
    assert again.status == "duplicate"  # the refused import changed nothing
    # the same move dated after today is taken, and from then on keys trips by the new group
    import_rows(engine, _moved("2026-01-11"), now)
    later = {**trip, "id": "t2", "occurred_at": shanghai(2026, 1, 11, 8)}
    [new_group] = ingest(engine, apps.a, [later], shanghai(2026, 1, 11, 9))
    assert (new_group.status, new_group.type_version) == ("credited", 2)
    [dup] = ingest(engine, apps.b, [{**later, "id": "other-app-2"}], shanghai(2026, 1, 11, 9))
    assert dup.status == "duplicate"


def test_a_past_start_is_still_taken_when_the_identity_group_stays(engine: Engine) -> None:
    # a corrected factor may be published after the date it applies from: only identities are fixed
    [v2] = import_rows(engine, _v2(valid_from="2026-01-01"), shanghai(2026, 3, 1))
    assert (v2.version, v2.g_per_unit) == (2, Decimal("50"))


@pytest.mark.parametrize("db", ["engine", "pg_engine"])
def test_two_imports_at_once_cannot_break_a_group_together(
    db: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sheets each adding a new type to one new identity group, with different identity
    fields: either alone is fine, both together break the group's shape, after which load() (so
    every batch) is refused. Each import reads, checks and writes in its own transaction; both
    read before either wrote (a pause after the read) and both committed, until imports took a
    lock first: now the second waits for the first and is refused."""
    import threading
    import time

    from accounts import methodology

    engine: Engine = request.getfixturevalue(db)
    reading = methodology.load

    def slow_load(conn: object) -> methodology.Methodology:
        found = reading(conn)  # type: ignore[arg-type]
        time.sleep(0.5)  # the other import reads meanwhile, unless it waits for this one
        return found

    monkeypatch.setattr(methodology, "load", slow_load)
    sheets = [
        _v2(type="scooter-a", version="1", identity_group="scooter", identity_fields="vehicle"),
        _v2(type="scooter-b", version="1", identity_group="scooter", identity_fields="plate"),
    ]
    outcomes: list[object] = []

    def run(sheet: str) -> None:
        try:
            outcomes.append(import_rows(engine, sheet, T0))
        except InputError as e:
            outcomes.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in sheets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(type(o).__name__ for o in outcomes) == ["InputError", "list"], outcomes
    monkeypatch.setattr(methodology, "load", reading)
    with engine.connect() as conn:
        assert {"scooter-a", "scooter-b"} & set(load(conn).by_type)  # the methodology still loads
