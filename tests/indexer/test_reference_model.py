"""The projections against an independent per-kilogram model (tests/indexer/kilogram_model.py).

Hypothesis draws random valid operation sequences (issue to owner and reserve, import, transfer,
batch transfer with repeated ids, retire, cancel, pledge/release/enforce, export
request/confirm/abort), each in a new block, a shared block or the transaction before (a contract
calling the registry several times). Each becomes the contract's events, applied to the
projector, and the model's change. Then both must agree on who holds every serial and in which
state, each holder's first-in-first-out order, balances with their locks, each batch's supply,
and each sampled serial's chain of holders as the lot moves give it. A smaller run also stores
the projected state into SQLite with indexer/store.py and asks the provenance routes' own
functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from api.problems import ApiProblem
from api.routes.provenance import retirement, serial
from certificates.db import create_schema
from indexer import store
from indexer.db import make_engine
from indexer.models import TABLES as MIRROR_TABLES
from indexer.projections import Projector
from indexer.state import KEY_OF, State
from tests.indexer.kilogram_model import CHAIN_ID, KINDS, PROJECTS, Driver, Model, Op

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 1 << 20),
        st.integers(0, 1 << 20),
        st.integers(0, 1 << 20),
        st.lists(st.integers(0, 1 << 20), min_size=1, max_size=4),
        st.sampled_from([0, 0, 1, 2]),
    ),
    min_size=50,
    max_size=60,
)


def drive(ops: list[Op]) -> Driver:
    driver = Driver()
    driver.setup()
    for op in ops:
        driver.run(op)
    return driver


def expand(state: State) -> dict[int, tuple[int, str, str, str | None]]:
    """serial -> (batch, holder, state, retirement or cancellation id), from the lots; lots never overlap."""
    out: dict[int, tuple[int, str, str, str | None]] = {}
    for (batch, first), lot in state.tables["lots"].items():
        assert first == lot["first_serial"] <= lot["last_serial"] and lot["batch_id"] == batch
        ref = lot["retirement_id"] if lot["state"] == "retired" else lot["cancellation_id"]
        assert (lot["retirement_id"], lot["cancellation_id"]).count(None) == (2 if lot["state"] == "held" else 1)
        for s in range(first, lot["last_serial"] + 1):
            assert s not in out, f"serial {s} in two lots"
            out[s] = (batch, lot["holder"], lot["state"], ref)
    return out


def queues(state: State) -> dict[tuple[str, int], list[int]]:
    """Each holder's serials of a batch in the order they will leave, from the projector's queues."""
    lots = state.tables["lots"]
    out = {}
    for (holder, batch), firsts in state.fifo.items():
        if firsts:
            out[(holder, batch)] = [s for f in firsts for s in range(f, lots[(batch, f)]["last_serial"] + 1)]
    return out


def custody(moves: list[dict[str, Any]], batch: int, s: int) -> list[tuple[Any, ...]]:
    """The chain of holders of serial `s`, from the lot moves, in chain order."""
    mine = sorted(
        (m for m in moves if m["batch_id"] == batch and m["first_serial"] <= s <= m["last_serial"]),
        key=lambda m: (m["block_number"], m["log_index"], m["part"]),
    )
    return [
        (m["kind"], m["from_holder"], m["to_holder"], m["tx_hash"], m["block_number"], m["log_index"]) for m in mine
    ]


def sample(model: Model, n: int = 40) -> list[int]:
    last = model.next_serial - 1
    return sorted({*range(1, last + 1, max(1, last // n)), last})


def check(state: State, model: Model, moves: list[dict[str, Any]], appended: dict[str, list[dict[str, Any]]]) -> None:
    kilograms = model.kilograms
    assert expand(state) == {s: (kg.batch, kg.holder, kg.state, kg.ref) for s, kg in kilograms.items()}
    expected_queues = {k: list(q) for k, q in model.queues.items() if q}
    assert queues(state) == expected_queues
    assert state.tables["balances"] == model.balances()
    assert {
        k[0]: (b["first_serial"], b["issued"], b["retired"], b["cancelled"]) for k, b in state.tables["batches"].items()
    } == {i: (b["first"], b["issued"], b["retired"], b["cancelled"]) for i, b in model.batches.items()}
    assert {p: state.tables["projects"][(p,)]["batch_count"] for p in PROJECTS} == {
        p: model.batch_count[p] for p in PROJECTS
    }
    assert {
        k[0]: (p["pledgor"], p["pledgee"], p["batch_id"], p["amount"], p["status"])
        for k, p in state.tables["pledges"].items()
    } == {hex(i): (p["pledgor"], p["pledgee"], p["batch"], p["amount"], p["status"]) for i, p in model.pledges.items()}
    assert {
        k[0]: (x["holder"], x["batch_id"], x["amount"], x["status"]) for k, x in state.tables["exports"].items()
    } == {hex(i): (x["holder"], x["batch"], x["amount"], x["status"]) for i, x in model.exports.items()}
    ended = {
        r["id"]: {"batch": r["batch_id"], "holder": r["holder"], "amount": r["amount"], "state": state_name}
        for table, state_name in (("retirements", "retired"), ("cancellations", "cancelled"))
        for r in appended.get(table, [])
    }
    assert ended == model.endings
    keys = [(m["block_number"], m["log_index"], m["part"]) for m in moves]
    assert len(set(keys)) == len(keys), "lot moves are keyed by block, log index and part"
    for s in sample(model):
        assert custody(moves, kilograms[s].batch, s) == kilograms[s].history, f"provenance of serial {s}"
    # a restart rebuilds the queues from the stored lots' acquisition order: the same order
    state.rebuild_fifo()
    assert queues(state) == expected_queues


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=OPERATIONS)
def test_projections_agree_with_a_kilogram_model(ops: list[Op]) -> None:
    driver = drive(ops)
    state = State()
    projector = Projector(state, CHAIN_ID)
    for e in driver.events:
        projector.apply(e)
    check(state, driver.model, state.appended["lot_moves"], state.appended)


# ---------------------------------------------------------------- through the store and the provenance routes


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("model") / "mirror.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)  # the mirror's and the certificate service's migrations, as the API runs on
    yield engine
    engine.dispose()


def project_and_store(engine: Engine, driver: Driver, blocks_per_range: int) -> State:
    """Apply the events range by range, each range written by the indexer's own store code."""
    state = State()
    projector = Projector(state, CHAIN_ID)
    by_block = [list(events) for _, events in groupby(driver.events, key=lambda e: e.block_number)]
    for start in range(0, len(by_block), blocks_per_range):
        chunk = by_block[start : start + blocks_per_range]
        for block in chunk:
            for e in block:
                projector.apply(e)
        last = chunk[-1][-1]
        store.write_range(
            engine,
            store.take_range(
                state,
                chain_id=CHAIN_ID,
                address=last.address,
                raw_events=[],
                blocks=[],
                cursor_block=last.block_number,
                cursor_hash=last.block_hash,
                journal_from=last.block_number + 1,
                prune_below=0,
            ),
        )
    return state


def history_of(moves: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (m["kind"], m["from_holder"], m["to_holder"], m["tx_hash"], m["block_number"], m["log_index"]) for m in moves
    ]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(ops=OPERATIONS, blocks_per_range=st.integers(1, 40))
def test_the_stored_mirror_answers_provenance_as_the_model_does(
    engine: Engine, ops: list[Op], blocks_per_range: int
) -> None:
    with engine.begin() as conn:
        for table in MIRROR_TABLES:
            conn.execute(text(f"DELETE FROM {table.name}"))
    driver = drive(ops)
    model = driver.model
    state = project_and_store(engine, driver, blocks_per_range)
    with engine.connect() as conn:
        # what the store wrote is what the projector holds (deleted rows included)
        for table in ("lots", "balances", "batches", "pledges", "exports"):
            rows = conn.execute(select(store.TABLES[table])).mappings().all()
            assert {KEY_OF[table](dict(r)): dict(r) for r in rows} == state.tables[table], table
        moves = [dict(r) for r in conn.execute(select(store.TABLES["lot_moves"])).mappings()]
        retirements = [dict(r) for r in conn.execute(select(store.TABLES["retirements"])).mappings()]
        cancellations = [dict(r) for r in conn.execute(select(store.TABLES["cancellations"])).mappings()]
        check(state, model, moves, {"retirements": retirements, "cancellations": cancellations})

        for s in sample(model, 15):
            kg = model.kilograms[s]
            answer = serial(serial=s, conn=conn).model_dump()  # as served: the response model's JSON
            now = answer["now"]
            assert answer["batch_id"] == kg.batch
            assert (now["holder"], now["state"], now["retirement_id"] or now["cancellation_id"]) == (
                kg.holder,
                kg.state,
                kg.ref,
            )
            assert now["lot_first"] <= s <= now["lot_last"]
            assert history_of(answer["moves"]) == kg.history
            assert all(m["first_serial"] <= s <= m["last_serial"] for m in answer["moves"])
        with pytest.raises(ApiProblem):
            serial(serial=model.next_serial, conn=conn)

        retired = sorted(ref for ref, end in model.endings.items() if end["state"] == "retired")
        for ref in retired[:5]:
            body = json.loads(retirement(retirement_id=ref, conn=conn).body)
            end = model.endings[ref]
            assert (body["retirement"]["batch_id"], body["retirement"]["holder"], body["retirement"]["amount"]) == (
                end["batch"],
                end["holder"],
                end["amount"],
            )
            ranges = body["serial_ranges"]
            serials = [s for r in ranges for s in range(r["first_serial"], r["last_serial"] + 1)]
            assert serials == sorted(s for s, kg in model.kilograms.items() if kg.ref == ref)
            assert sum(r["amount_kg"] for r in ranges) == end["amount"]
            for r in ranges:
                for s in range(r["first_serial"], r["last_serial"] + 1):
                    assert history_of(r["moves"]) == model.kilograms[s].history, f"custody of serial {s}"
