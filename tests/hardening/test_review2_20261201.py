"""A second hostile review of 4f43ec8 and 92bea80 (the methodology import lock and group-move
boundaries, pointslog.audit's chain read before its snapshot, export_account's consents). Each test
is one attack: a finding's docstring says what was expected against what happened (both were fixed
the same day; their tests now hold the fix); an attack that held says "held"."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text

from accounts import methodology
from accounts import pointslog as pl
from accounts.errors import InputError
from accounts.ingest import ingest
from accounts.methodology import import_rows, load, parse_row, shipped
from tests.accounts.conftest import Apps, _data_key, apps, engine, make_apps, pg_engine  # noqa: F401  # fixtures
from tests.accounts.pointslog_helpers import anchor_client
from tests.accounts.pointslog_helpers import credit as credit_many
from tests.accounts.test_methodology import shanghai
from tests.conftest import World
from tests.hardening.test_review_20261201 import _row, _sheet

NOW = shanghai(2026, 1, 10, 10)


def _trip(rid: str, account: str, kind: str, at: int, quantity: str) -> dict[str, object]:
    return {
        "id": rid,
        "account": account,
        "type": kind,
        "occurred_at": at,
        "quantity": quantity,
        "identity": {"entry_station": "天府广场", "exit_station": "春熙路"},
    }


def _walk(rid: str, account: str, kind: str, at: int) -> dict[str, object]:
    return {"id": rid, "account": account, "type": kind, "occurred_at": at, "quantity": "10000", "identity": {}}


def _in_thread(fn: object, *args: object) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(fn(*args))  # type: ignore[operator]
        except Exception as e:  # reported by the test
            out.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


# ---------------------------------------------------------------------------------- the import lock


def test_the_import_lock_and_ingest_never_wait_for_each_other_on_postgresql(pg_engine: Engine) -> None:  # noqa: F811
    """Held: the import's SHARE ROW EXCLUSIVE lock conflicts only with writers of
    behaviour_versions, not with ingest's reads (ACCESS SHARE, held to the end of each batch). A
    batch ingests while an import holds the lock (the import's transaction left open), and an
    import takes its lock and commits while an ingest-like transaction that read
    behaviour_versions is still open (a long batch): neither waits."""
    a = make_apps(pg_engine)
    with pg_engine.connect() as holder:
        holder.execute(text("LOCK TABLE behaviour_versions IN SHARE ROW EXCLUSIVE MODE"))  # an import, mid-way
        t, out = _in_thread(ingest, pg_engine, a.a, [_trip("m1", a.account, "metro", NOW - 3600, "10")], NOW)
        t.join(15)
        assert not t.is_alive(), "an ingest batch waited for a methodology import's lock"
        holder.rollback()
    assert [o.status for o in out[0]] == ["credited"], out  # type: ignore[union-attr]

    with pg_engine.connect() as batch:
        batch.execute(text("SELECT count(*) FROM behaviour_versions"))  # a long batch: its lock held to commit
        t, out = _in_thread(import_rows, pg_engine, _sheet(_row("metro", valid_from="2026-01-01")), NOW)
        t.join(15)
        assert not t.is_alive(), "a methodology import waited for an open ingest batch"
        batch.rollback()
    assert not isinstance(out[0], Exception), out


def test_a_second_import_waits_for_the_first_and_then_sees_its_rows_on_sqlite(engine: Engine) -> None:  # noqa: F811
    """Held: on SQLite the import's write lock is taken before its read, so an import that
    starts while another holds the lock waits for its commit and checks its rows against it
    (metro v2 twice: the second is refused as a version clash, not committed beside the first)."""
    with engine.connect() as first:
        first.execute(text("UPDATE points_lots SET remaining = remaining WHERE 0"))  # accounts.ledger.write_lock
        t, out = _in_thread(import_rows, engine, _sheet(_row("metro", valid_from="2026-01-02")), NOW)
        time.sleep(0.5)
        assert t.is_alive()  # waiting for the write lock
        first.execute(
            text("INSERT INTO behaviour_versions (type, version, row_json, imported_at) VALUES (:t, 2, :j, :n)"),
            {"t": "metro", "j": methodology._row_json(parse_row(_row("metro", valid_from="2026-01-01"))), "n": NOW},
        )
        first.commit()
        t.join(35)
    assert isinstance(out[0], InputError), out
    with engine.connect() as conn:
        assert [b.version for b in load(conn).by_type["metro"]] == [1, 2]


def test_a_release_shipping_a_type_an_operator_already_imported_keeps_the_imported_row(
    apps: Apps,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Expected (92bea80: the lock exists because two sheets that "together break a group's shape"
    would make load() refuse "every batch after"): nothing the operator is allowed to do leaves a
    methodology that load() refuses. Actual: the same outage comes from the other side of load(),
    the shipped rows: an operator imports a new type (scooter v1, the documented way to add one),
    then upgrades to a release whose accounts/behaviours/*.csv ships scooter v1 too (or a type of
    another shape in one of the operator's groups). Methodology() raises "has a version twice" for
    every load(), so every ingest batch, metro included, is refused until someone edits the
    database by hand; no import can fix it (import_rows loads first). import_rows cannot see a
    future release, but load() could tell shipped rows from imported ones instead of refusing all."""
    scooter = _row("cycling", type="scooter", version="1", identity_group="scooter-ride", valid_from="2026-01-01")
    import_rows(apps.engine, _sheet(scooter), NOW)
    released = (*shipped(), parse_row({**scooter, "source": "shipped in the next release"}))
    monkeypatch.setattr(methodology, "shipped", lambda: released)
    try:
        got = ingest(apps.engine, apps.a, [_trip("m1", apps.account, "metro", NOW - 3600, "10")], NOW)
    except InputError as e:
        got = e  # type: ignore[assignment]
    assert not isinstance(got, InputError), f"every batch is refused after the upgrade: {got}"
    with apps.engine.connect() as conn:  # the database's row is kept: records were converted by it
        [kept] = load(conn).by_type["scooter"]
    assert kept.source != "shipped in the next release"


# ---------------------------------------------------------------------------------- group moves


def test_a_move_between_bucket_sizes_is_taken_only_on_a_boundary_of_both(engine: Engine) -> None:  # noqa: F811
    """Held: walking (a day bucket) moved to an hourly group at 01:00 (an hour boundary, not a
    day's) is refused; metro (600 s) moved to a day group at 10:00 is refused; cycling (300 s)
    moved to a 1,200 s group at 00:25 (a 300 s boundary, not 1,200 s) is refused, at 00:20 (both)
    taken."""
    cases = [
        _row("walking", identity_group="walking-hour", time_bucket_s="3600", valid_from="2026-01-11T01:00:00+08:00"),
        _row("metro", identity_group="metro-day", time_bucket_s="86400", valid_from="2026-01-11T10:00:00+08:00"),
        _row("cycling", identity_group="bike-20", time_bucket_s="1200", valid_from="2026-01-11T00:25:00+08:00"),
    ]
    for row in cases:
        with pytest.raises(InputError, match="inside a time bucket"):
            import_rows(engine, _sheet(row), NOW)
    ok = _row("cycling", identity_group="bike-20", time_bucket_s="1200", valid_from="2026-01-10T16:20:00Z")
    [v2] = import_rows(engine, _sheet(ok), NOW)
    assert v2.valid_from == shanghai(2026, 1, 11, 0, 20)


def test_a_new_type_joining_a_group_at_a_past_start_dedups_against_its_group_mates(apps: Apps) -> None:  # noqa: F811
    """Held: the first version of a new type has no version before it, so no move check; it joins
    walking-day from a past date, mid-day. No record of the new type can have been credited
    before (it was an unknown type), and its records take the group's key, so a day already
    credited through walking is a duplicate through the new type, before and after its start."""
    db = apps.engine
    watch = _row("walking", type="walking-watch", version="1", valid_from="2026-01-09T12:00:00+08:00")
    first = ingest(db, apps.a, [_walk("w1", apps.account, "walking", shanghai(2026, 1, 9, 9))], NOW)
    import_rows(db, _sheet(watch), NOW)
    again = ingest(db, apps.b, [_walk("w2", apps.account, "walking-watch", shanghai(2026, 1, 9, 13))], NOW)
    assert [o.status for o in first + again] == ["credited", "duplicate"]


def test_a_move_that_leaves_a_group_mate_behind_is_refused(apps: Apps) -> None:  # noqa: F811
    """Found first: metro and metro-ticket share metro-trip (one trip reported by distance or by
    ticket earns once), and metro alone moved to metro-trip-v2 from tomorrow's midnight (future, on
    a boundary: every check passed); from then on one trip sent as metro by one app and as
    metro-ticket by the other earned twice. Now a move that leaves a group mate behind is refused,
    and the two moved in one sheet from one date keep sharing a key."""
    db = apps.engine
    with pytest.raises(InputError, match="leaving metro-ticket in it"):
        import_rows(db, _sheet(_row("metro", identity_group="metro-trip-v2", valid_from="2026-01-11")), NOW)
    both = _sheet(
        _row("metro", identity_group="metro-trip-v2", valid_from="2026-01-11"),
        _row("metro-ticket", identity_group="metro-trip-v2", valid_from="2026-01-11"),
    )
    assert {b.identity_group for b in import_rows(db, both, NOW)} == {"metro-trip-v2"}
    at, later = shanghai(2026, 1, 11, 8, 30), shanghai(2026, 1, 11, 9)
    sent = [
        ingest(db, apps.a, [_trip("t1", apps.account, "metro", at, "10")], later)[0].status,
        ingest(db, apps.b, [_trip("t2", apps.account, "metro-ticket", at, "1")], later)[0].status,
    ]
    assert sent == ["credited", "duplicate"], f"one metro trip, two channels: {sent}"


# ---------------------------------------------------------------------------------- pointslog.audit


def test_a_points_audit_of_a_never_anchored_chain_or_without_a_client_reports_only_the_truth(
    world: World,
    engine: Engine,  # noqa: F811
) -> None:
    """Held: with the chain never anchored (latest (0, zero bytes)) a fresh log audits clean with
    the client and without it; a database that records an anchor the chain lacks (a restored
    database on a fresh chain) is reported, once, with the client, and not without it."""
    anchors = anchor_client(world)
    assert pl.chain_latest(anchors)[0] == 0
    credit_many(engine, 4)
    pl.append_pending(engine)
    assert pl.check(engine, anchors) == []
    assert pl.check(engine, None) == []
    with engine.begin() as conn:
        conn.execute(
            pl._ANCHORS.insert().values(
                tree_size=8,
                root=pl.points_log(engine).root(8).hex(),
                tx_hash="0x" + "ab" * 32,
                block_number=1,
                anchored_at=int(time.time()),
            )
        )
    problems = pl.check(engine, anchors)
    assert len(problems) == 1 and "the chain none" in problems[0], problems
    assert pl.check(engine, None) == []


def test_a_points_audit_with_an_anchoring_between_its_chain_read_and_its_snapshot_reports_nothing(
    world: World,
    engine: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Held: the chain's latest is read first (size 16); the main job then appends and anchors
    size 32 (chain, then the database) before the snapshot opens: the snapshot records 32, the
    audit asks the chain for it (anchoredRoot) and finds it, so nothing is reported."""
    anchors = anchor_client(world)
    credit_many(engine, 8)
    pl.append_pending(engine)
    assert pl.anchor(anchors, engine, force=True) is not None
    opening = pl.read_snapshot

    @contextmanager
    def late(db: Engine) -> Iterator[object]:
        credit_many(engine, 8, start=8)
        pl.append_pending(engine)
        assert pl.anchor(anchors, engine, force=True) is not None
        with opening(db) as conn:
            yield conn

    monkeypatch.setattr(pl, "read_snapshot", late)
    assert pl.check(engine, anchors) == []
    monkeypatch.setattr(pl, "read_snapshot", opening)
    assert pl.chain_latest(anchors)[0] == 32
