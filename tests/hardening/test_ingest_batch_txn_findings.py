"""Hostile tests of accounts/ingest.py's one-transaction-per-batch change (txn per batch, the
PostgreSQL planning pass and savepoint, records found through credit entries). Three were findings,
each seen failing before its fix (a batch resent while the first send ran, an id reused by two
concurrent batches, a lone surrogate as a field name); the rest are attacks that held, kept because
they pin what must stay true."""

from __future__ import annotations

import random
import time
from functools import partial
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select

import tests.accounts.conftest as accounts_conftest
import tests.api.accounts_helpers as api_helpers
from accounts import ledger
from accounts.ingest import RecordOutcome, ingest
from accounts.ledger_models import ENTRIES
from accounts.models import BEHAVIOUR_RECORDS, CAP_COUNTERS
from accounts.people import delete_account, export_account, grant_consent, open_account
from tests.accounts.conftest import T0, Apps, make_apps
from tests.accounts.test_ingest import NOW, rec, ride
from tests.accounts.test_ingest_pg import _race
from tests.accounts.test_methodology import shanghai

AT = shanghai(2026, 3, 10, 8)
# the accounts fixtures (a per-test vault key, a SQLite file, a scratch PostgreSQL database)
_data_key = accounts_conftest._data_key
engine = accounts_conftest.engine
pg_engine = accounts_conftest.pg_engine
# the API's: a registered app and its keys around a SQLite database, and a test client
_keys = api_helpers._keys
world = api_helpers.world
client = api_helpers.client


def _trip(
    account: str, rid: str, n: int, kind: str = "metro", quantity: object = "1", tag: str = "S"
) -> dict[str, Any]:
    return rec(account, rid, kind, AT + 60 * n, quantity, entry_station=f"{tag}{n}", exit_station="Z")


def _person(engine: Engine, apps: Apps) -> str:
    acc = open_account(engine, apps.a, T0)
    grant_consent(engine, apps.a, acc, "transit", T0)
    grant_consent(engine, apps.a, acc, "transit", T0, for_source=apps.b.source_id)
    return acc


def _invariants(engine: Engine) -> None:
    """Counters equal the credited points per account/type/period, every transaction sums to zero,
    every behaviour record credited once, the audit clean."""
    r = BEHAVIOUR_RECORDS.c
    with engine.connect() as conn:
        records = conn.execute(select(r.key, r.account_id, r.type, r.occurred_at, r.points, r.txn)).all()
        counters = {
            (a, t, d): int(n)
            for a, t, d, n in conn.execute(
                select(CAP_COUNTERS.c.account_id, CAP_COUNTERS.c.type, CAP_COUNTERS.c.period, CAP_COUNTERS.c.points)
            )
        }
        person_credits = conn.execute(
            select(ENTRIES.c.ref, ENTRIES.c.amount, ENTRIES.c.txn).where(
                ENTRIES.c.kind == "credit", ENTRIES.c.account.like("person:%")
            )
        ).all()
    from accounts.methodology import day_of

    want: dict[tuple[str, str, str], int] = {}
    stripped = {x.account_id for x in records if x.occurred_at is None}  # deleted: when is gone
    counters = {k: v for k, v in counters.items() if k[0] not in stripped}
    for x in records:
        if x.account_id in stripped:
            continue
        day = day_of(x.occurred_at)
        for period in ("d" + day, "y" + day[:4]):
            want[(x.account_id, x.type, period)] = want.get((x.account_id, x.type, period), 0) + x.points
    assert {k: v for k, v in counters.items() if v} == want
    by_ref = {ref: (amount, txn) for ref, amount, txn in person_credits}
    assert len(by_ref) == len(person_credits) == len(records)
    for x in records:
        assert by_ref["record:" + x.key] == (x.points, x.txn)
    assert ledger.audit(engine) == []


# --- findings ------------------------------------------------------------------------------------


def test_a_batch_resent_while_the_first_send_runs_answers_its_first_outcomes(pg_engine: Engine) -> None:
    """Failed before its fix (seen). A source resends a batch (its HTTP client timed out) while the first send is still
    running. Both read no stored record; the resend's counters wait for the first send's commit, its
    insert then skips every (source, id) the first send stored and the lost records are answered
    `duplicate`, 0 points, txn null. A retried record (same source, same id) must answer the first
    outcome: credited, the same points and the same txn (ingest's docstring, the brief's rule 1)."""
    apps = make_apps(pg_engine)
    for round_ in range(6):
        batch = [_trip(apps.account, f"r{round_}-{i}", 10 * round_ + i, quantity="2") for i in range(5)]
        got = _race(pg_engine, [partial(ingest, pg_engine, apps.a, batch, NOW) for _ in range(2)])
        first, second = got
        assert [(o.status, o.points, o.txn) for o in first] == [(o.status, o.points, o.txn) for o in second], (
            f"round {round_}: {[(o.status, o.points, o.txn) for o in first]} vs "
            f"{[(o.status, o.points, o.txn) for o in second]}"
        )
    _invariants(pg_engine)


def test_an_id_reused_by_two_concurrent_batches_is_refused_id_reused(pg_engine: Engine) -> None:
    """Failed before its fix (seen). One source sends, in two concurrent batches, the same record id for two different
    behaviours (two people's trips: no cap counter in common, so nothing serialises them). The
    loser's insert skips on the (source, id) constraint and its record is answered `duplicate` with
    `record` naming a behaviour that was never stored nor credited. Sent one after the other the
    second is refused `id_reused`; concurrently it must not be told its behaviour was credited
    before (it was not: a `duplicate` record must name a stored behaviour)."""
    apps = make_apps(pg_engine)
    p, q = apps.account, _person(pg_engine, apps)
    bad: list[tuple[str, str | None, str | None]] = []
    for round_ in range(6):
        rid = f"shared-{round_}"
        got = _race(
            pg_engine,
            [
                partial(ingest, pg_engine, apps.a, [_trip(p, rid, round_, tag="P")], NOW),
                partial(ingest, pg_engine, apps.a, [_trip(q, rid, round_, tag="Q")], NOW),
            ],
        )
        with pg_engine.connect() as conn:
            stored = set(conn.execute(select(BEHAVIOUR_RECORDS.c.key)).scalars())
        for (o,) in got:
            if o.status == "duplicate" and o.record not in stored:
                bad.append((o.status, o.code, o.record))
        statuses = sorted((o.status, o.code) for (o,) in got)
        assert statuses == [("credited", None), ("refused", "id_reused")], (round_, statuses)
    assert bad == []


def test_export_and_deletion_find_records_credited_before_the_migration(engine: Engine) -> None:
    """Until a0002 each credit was its own transaction `credit:<key>` with two postings, the person's
    ref `record:<key>` (accounts/ingest.py wrote it so on both databases; the test helper
    ledger_helpers.credit uses a bare ref, which ingest never wrote). export_account and
    delete_account find a person's records through those refs: a record credited the old way is
    exported and stripped beside one credited in a batch transaction."""
    apps = make_apps(engine)
    old_key = "ab" * 32
    with engine.begin() as conn:
        conn.execute(
            insert(BEHAVIOUR_RECORDS).values(
                key=old_key,
                source_id=apps.a.source_id,
                source_record_id="old-1",
                account_id=apps.account,
                type="metro",
                version=1,
                occurred_at=AT - 86_400,
                quantity="10",
                points=468,
                capped=False,
                received_at=T0,
                txn=f"credit:{old_key}",  # what a0002 wrote
            )
        )
        ledger.post(
            conn,
            f"credit:{old_key}",
            "credit",
            f"record:{old_key}",
            [
                ledger.Posting(f"source:{apps.a.source_id}", -468),
                ledger.Posting(ledger.person(apps.account), 468, T0 + 86_400),
            ],
            T0,
        )
    got = ingest(engine, apps.a, [_trip(apps.account, "new-1", 1)], NOW)
    assert got[0].status == "credited"
    exported = {r["source_record_id"] for r in export_account(engine, apps.account)["records"]}
    delete_account(engine, apps.account, NOW)
    with engine.connect() as conn:
        left = conn.execute(
            select(BEHAVIOUR_RECORDS.c.source_record_id).where(BEHAVIOUR_RECORDS.c.occurred_at.is_not(None))
        ).all()
    assert (exported, left) == ({"old-1", "new-1"}, [])


def test_a_record_with_a_lone_surrogate_field_name_is_refused_not_a_500(world: api_helpers.Sources) -> None:
    """Failed before its fix (seen). JSON may escape a lone surrogate ("\\ud800"); as a record's field name it is copied
    into the `malformed` reason ("unknown field(s) …"), which orjson cannot encode: the whole batch
    answers 500 and the good records in it are applied but their outcomes lost. Expected: 200, that
    record refused `malformed` with a reason that encodes (the field named by position or escaped)."""
    with TestClient(world.app, raise_server_exceptions=False) as c:
        account = world.open(c)
        good = _trip(account, "good-1", 1)
        good["occurred_at"] = int(time.time()) - 3600
        body = '{"records":[' + orjson.dumps(good).decode() + ',{"id":"x","\\ud800":1}]}'
        r = c.post(
            f"{api_helpers.V1}/records",
            content=body.encode(),
            headers={**world.auth("metro-app"), "content-type": "application/json"},
        )
    assert r.status_code == 200, r.text
    assert [(o["status"], o["code"]) for o in r.json()["outcomes"]] == [("credited", None), ("refused", "malformed")]


# --- attacks that held -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_six_batches_at_once_sharing_people_counters_and_behaviours(pg_engine: Engine, seed: int) -> None:
    """Six concurrent batches from two sources: the same trips under other ids and as metro or
    metro-ticket (one identity group), near the daily cap. No error escapes, no batch stalls for
    seconds, and afterwards counters, transactions, records and the audit agree."""
    apps = make_apps(pg_engine)
    people = [apps.account] + [_person(pg_engine, apps) for _ in range(4)]
    rng = random.Random(seed)
    for round_ in range(3):
        batches = []
        for k in range(6):
            mine = []
            for i, person in enumerate(people):
                for n in range(12):
                    kind = rng.choice(["metro", "metro-ticket"])
                    qty = rng.choice(["3", "10"]) if kind == "metro" else 1
                    mine.append(_trip(person, f"r{round_}-{k}-{i}-{n}", 100 * round_ + n, kind, qty))
            rng.shuffle(mine)
            batches.append(mine)
        principals = [apps.a, apps.b] * 3
        start = time.monotonic()
        got = _race(
            pg_engine, [partial(ingest, pg_engine, p, b, NOW) for p, b in zip(principals, batches, strict=True)]
        )
        assert time.monotonic() - start < 5
        for g in got:
            for o in g:
                if o.status == "duplicate":
                    assert o.record is not None
        credited = [o.record for g in got for o in g if o.status == "credited"]
        assert len(credited) == len(set(credited))
        for p, b, g in zip(principals, batches, got, strict=True):
            # the batch resent: the same outcomes, nothing new
            before = ledger.audit(pg_engine), _count(pg_engine)
            again = ingest(pg_engine, p, b, NOW + 1)
            # every record credited the first time answers the same (a refused one may now be a
            # duplicate of a behaviour another batch credited since)
            assert [
                (o.status, o.points, o.txn, o.record) for o, f in zip(again, g, strict=True) if f.status == "credited"
            ] == [(o.status, o.points, o.txn, o.record) for o in g if o.status == "credited"]
            assert (ledger.audit(pg_engine), _count(pg_engine)) == before
    _invariants(pg_engine)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ENTRIES)).scalar_one())


@pytest.mark.parametrize("db", ["engine", "pg_engine"])
def test_edges_of_one_batch(db: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(db)
    apps = make_apps(engine)
    acc = apps.account
    one = ingest(engine, apps.a, [_trip(acc, "one", 1, quantity="10")], NOW)
    assert [(o.status, o.points) for o in one] == [("credited", 468)]
    n = _count(engine)
    # every record a duplicate or refused: nothing posted, no empty transaction
    got = ingest(
        engine,
        apps.b,
        [
            _trip(acc, "dup", 1, "metro-ticket", 1),
            rec(acc, "bad", "teleport", AT, 1),
            _trip(acc, "dup", 1, "metro-ticket", 1),
        ],
        NOW,
    )
    assert [(o.status, o.txn) for o in got] == [("duplicate", one[0].txn), ("refused", None), ("duplicate", one[0].txn)]
    assert _count(engine) == n
    # a cap met exactly at its boundary: five rides of 200 fill the cycling day (1,000), the sixth gets none
    pts = [
        o.points
        for o in ingest(engine, apps.a, [ride(acc, f"c{i}", AT + 300 * i, "1", f"b{i}") for i in range(6)], NOW)
    ]
    assert pts == [200, 200, 200, 200, 200, 0]  # cycling cap 1,000 hit exactly by the fifth
    # same behaviour twice under two types of one group, the first refused by a full cap
    fill = ingest(engine, apps.a, [_trip(acc, "fill", 2, quantity="200")], NOW)
    assert fill[0].capped and fill[0].points == 2000 - 468
    got = ingest(engine, apps.a, [_trip(acc, "m", 3, quantity="5"), _trip(acc, "t", 3, "metro-ticket", 1)], NOW)
    assert [(o.status, o.points, o.code) for o in got] == [("refused", 0, "cap_reached"), ("credited", 274, None)]
    # another source's record, another batch: the export finds every record through the entries
    bus = ingest(engine, apps.b, [rec(acc, "bus-1", "bus", AT, "10", line="1", board_stop="A")], NOW)
    assert bus[0].status == "credited"
    _invariants(engine)
    exported = export_account(engine, acc)
    assert sorted((r["source"], r["source_record_id"]) for r in exported["records"]) == sorted(
        [(apps.a.source_id, x) for x in ("one", "c0", "c1", "c2", "c3", "c4", "fill", "t")]
        + [(apps.b.source_id, "bus-1")]
    )


def test_a_batch_resent_while_the_first_send_runs_on_sqlite(engine: Engine) -> None:
    """The same race as the first finding on SQLite, where the batch takes the write lock before it
    reads: the resend answers the first outcomes, txn included (this held)."""
    apps = make_apps(engine)
    for round_ in range(3):
        batch = [_trip(apps.account, f"r{round_}-{i}", 10 * round_ + i, quantity="2") for i in range(5)]
        first, second = _race(engine, [partial(ingest, engine, apps.a, batch, NOW) for _ in range(2)])
        assert [(o.status, o.points, o.txn) for o in first] == [(o.status, o.points, o.txn) for o in second]
        assert {o.status for o in first} == {"credited"}
    _invariants(engine)


def test_deletion_racing_ingest_batches(pg_engine: Engine) -> None:
    """A deletion at the same time as batches for the account: afterwards no record of the account
    keeps its details, whichever committed first."""
    apps = make_apps(pg_engine)
    for round_ in range(4):
        acc = _person(pg_engine, apps)
        ingest(pg_engine, apps.a, [_trip(acc, f"pre-{round_}", 0, tag=f"pre{round_}")], NOW)
        jobs: list[Any] = [
            partial(
                ingest, pg_engine, apps.a, [_trip(acc, f"x{round_}-{i}", i, tag=f"x{round_}") for i in range(20)], NOW
            ),
            partial(
                ingest,
                pg_engine,
                apps.b,
                [_trip(acc, f"y{round_}-{i}", i, "metro-ticket", 1, tag=f"x{round_}") for i in range(20)],
                NOW,
            ),
        ]

        def delete(acc: str = acc) -> list[RecordOutcome]:
            delete_account(pg_engine, acc, NOW)
            return []

        _race(pg_engine, [*jobs, delete])
        with pg_engine.connect() as conn:
            kept = conn.execute(
                select(func.count())
                .select_from(BEHAVIOUR_RECORDS)
                .where(BEHAVIOUR_RECORDS.c.account_id == acc, BEHAVIOUR_RECORDS.c.occurred_at.is_not(None))
            ).scalar_one()
        assert kept == 0
    _invariants(pg_engine)
