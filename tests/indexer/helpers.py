"""Activity that exercises every event, and checks that the mirror equals the chain."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import SQLModel

from chain.client import RegistryClient
from chain.types import CancellationReason, ParticipantStatus, ProjectStatus, Scenario
from indexer.db import create_schema, make_engine, mirror_tables
from indexer.sync import Indexer
from tests.conftest import HASH, MONITORING, PROJECT, World

SKIP = {"blocks", "journal", "sync_cursor"}


def activity(world: World, rounds: int = 1) -> None:
    """Issue, transfer, retire, cancel, pledge, export, import and anchor, `rounds` times."""
    c, cast = world.client, world.cast
    for r in range(rounds):
        batch = (
            c.issue(
                world.op(),
                project_id=PROJECT,
                vintage=2024,
                monitoring_start=MONITORING[0],
                monitoring_end=MONITORING[1],
                quantity=9_000 + r,
                reserve_bps=500,
                verification_report_hash=HASH,
            )
            .event("BatchIssued")
            .args["batchId"]
        )
        c.transfer(cast.owner.address, cast.holder.address, batch, 4_000, sender=cast.owner)
        c.transfer_with_reference(
            world.op(), cast.holder.address, cast.buyer.address, batch, 700, HASH, sender=cast.holder
        )
        c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 300, sender=cast.holder)
        c.transfer_batch(
            cast.owner.address, cast.buyer.address, [batch, world.batch_id, batch], [10, 20, 30], sender=cast.owner
        )
        c.retire(world.op(), batch, 150, Scenario.LARGE_EVENT, b"\x11" * 32, HASH, sender=cast.buyer)
        c.retire(world.op(), world.batch_id, 60, Scenario.PERSONAL, b"\x12" * 32, HASH, sender=cast.buyer)
        c.cancel(world.op(), c.reserve_account(), batch, 100, CancellationReason.REVERSAL, HASH)
        pledge = world.op()
        c.pledge(pledge, batch, 500, cast.pledgee.address, HASH, sender=cast.holder)
        c.release_pledge(world.op(), pledge, sender=cast.pledgee)
        pledge = world.op()
        c.pledge(pledge, batch, 200, cast.pledgee.address, HASH, sender=cast.holder)
        c.enforce_pledge(world.op(), pledge, sender=cast.pledgee)
        c.pledge(world.op(), world.batch_id, 40, cast.pledgee.address, HASH, sender=cast.holder)
        export = world.op()
        c.request_export(export, cast.holder.address, batch, 250, "CQ-TANHUITONG", HASH)
        c.confirm_export(world.op(), export, b"\x21" * 32)
        export = world.op()
        c.request_export(export, cast.holder.address, batch, 50, "CQ-TANHUITONG", HASH)
        c.abort_export(world.op(), export)
        c.request_export(world.op(), cast.holder.address, world.batch_id, 30, "CQ-TANHUITONG", HASH)
        c.import_credits(
            world.op(),
            origin_key=world.op().to_bytes(32, "big"),
            origin_registry="CQ-TANHUITONG",
            project_id=PROJECT,
            to=cast.buyer.address,
            vintage=2023,
            quantity=333,
            evidence_hash=HASH,
        )
        size = c.latest_anchor()[0] + 3
        c.anchor_log_root(size, bytes([r + 7]) * 32, sender=cast.anchorer)
    flip = (
        ParticipantStatus.ACTIVE
        if c.participant(cast.platform.address).status == ParticipantStatus.SUSPENDED
        else ParticipantStatus.SUSPENDED
    )
    c.set_participant_status(world.op(), cast.platform.address, flip, HASH)
    c.set_project_status(world.op(), PROJECT, ProjectStatus.SUSPENDED, HASH)
    c.set_project_status(world.op(), PROJECT, ProjectStatus.REGISTERED, HASH)


def new_indexer(world: World, url: str, **kw: Any) -> Indexer:
    engine = make_engine(url)
    create_schema(engine)
    c = world.client
    return Indexer(
        c.rpc,
        engine,
        c.abi,
        chain_id=c.chain_id,
        address=c.address,
        start_block=world.registry.deployment.block_number,
        **kw,
    )


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for table in mirror_tables():
            name = table.name
            if name in SKIP:
                continue
            rows = conn.execute(select(table)).all()
            out[name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def check_equals_a_fresh_index(world: World, engine: Engine, tmp_path: Path) -> None:
    """The mirror equals a fresh index of the chain (into SQLite), and the chain's views."""
    fresh = new_indexer(world, f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    fresh.sync_once()
    assert dump(engine) == dump(fresh.engine)
    check_against_chain(engine, world.client)


def check_against_chain(engine: Engine, client: RegistryClient) -> None:
    """The mirror equals the chain's views, and the invariants hold."""
    data = {name: [dict(r._mapping) for r in rows] for name, rows in _rows(engine).items()}
    circulating: dict[int, int] = defaultdict(int)
    for b in data["balances"]:
        assert client.balance_of(b["holder"], b["batch_id"]) == b["amount"], b
        assert client.locked_of(b["holder"], b["batch_id"]) == (b["pledged"], b["frozen"]), b
        circulating[b["batch_id"]] += b["amount"]
    for batch in data["batches"]:
        supply = client.supply(batch["id"])
        assert (batch["issued"], batch["retired"], batch["cancelled"]) == (
            supply.issued,
            supply.retired,
            supply.cancelled,
        )
        assert batch["issued"] == circulating[batch["id"]] + batch["retired"] + batch["cancelled"]
        lots = sorted((lot for lot in data["lots"] if lot["batch_id"] == batch["id"]), key=lambda x: x["first_serial"])
        expected_first = batch["first_serial"]
        for lot in lots:  # ranges never overlap and exactly cover what was issued
            assert lot["first_serial"] == expected_first, (batch["id"], lot)
            expected_first = lot["last_serial"] + 1
        assert expected_first == batch["first_serial"] + batch["issued"]
        for state, total in (("retired", batch["retired"]), ("cancelled", batch["cancelled"])):
            assert sum(x["last_serial"] - x["first_serial"] + 1 for x in lots if x["state"] == state) == total
    held: dict[tuple[str, int], int] = defaultdict(int)
    for lot in data["lots"]:
        if lot["state"] == "held":
            held[(lot["holder"], lot["batch_id"])] += lot["last_serial"] - lot["first_serial"] + 1
    assert held == {(b["holder"], b["batch_id"]): b["amount"] for b in data["balances"] if b["amount"]}


def _rows(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as conn:
        return {
            name: conn.execute(select(SQLModel.metadata.tables[name])).all() for name in ("balances", "batches", "lots")
        }
