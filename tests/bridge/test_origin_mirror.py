"""The destination alone names where its imported units came from: its indexer mirrors the
import gate's ImportOrigin (reorg-safe like every mirrored row), and the provenance routes of a
serial and of a retirement of imported units name the origin registry, source chain, export,
source batch and its serial range, and which kilogram of the import the serial is."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from api.app import create_app
from bridge.origin import origin_key
from certificates import db as certificate_db
from certificates.context import ServiceContext
from certificates.settings import ServiceSettings
from chain.opids import random_op_id
from chain.types import Scenario, short_id
from indexer.db import create_schema, make_engine
from indexer.import_origins import import_origin
from indexer.models import ImportOriginRow
from indexer.sync import Indexer
from tests.bridge.conftest import SOURCE_NAME, Pair
from tests.conftest import HASH, ISSUED, PROJECT

V1 = "/api/v1"


def _mirror(pair: Pair, tmp_path: Path, *, gate: str) -> tuple[Engine, Indexer]:
    d = pair.destination.client
    engine = make_engine(f"sqlite:///{tmp_path / 'destination.sqlite'}")
    create_schema(engine)
    certificate_db.create_schema(engine)
    return engine, Indexer(d.rpc, engine, d.abi, chain_id=d.chain_id, address=d.address, start_block=0, gate=gate)


def test_provenance_of_an_imported_kilogram_names_its_origin(pair: Pair, tmp_path: Path) -> None:
    src, dst, cast = pair.source.client, pair.destination.client, pair.destination.cast
    export_id = pair.export(2_000)
    assert pair.relay().step().confirmed == 1
    batch = int(dst.view("importedBatch", origin_key(src.chain_id, src.address, export_id)))
    retired = dst.retire(random_op_id(), batch, 500, Scenario.ORGANISATION, HASH, HASH, sender=cast.buyer)
    retirement = retired.event("CreditsRetired")
    engine, indexer = _mirror(pair, tmp_path, gate=pair.recognitions.client.address)
    indexer.sync_once()

    context = ServiceContext(engine, pair.destination.registry.deployment, ServiceSettings())
    with TestClient(create_app(context)) as api:
        imported = api.get(f"{V1}/batches/{batch}").json()
        first = imported["first_serial"]
        # serial first + 41 is kilogram 42 of the 2,000 imported; they came from serials 1 .. 100,000 of source batch 1
        p = api.get(f"{V1}/provenance/serials/{first + 41}").json()
        o = p["origin"]
        assert o["attested"] and o["kilogram_of_import"] == 42 and o["imported_kg"] == 2_000
        assert (o["origin_registry"], o["source_chain_id"], o["source_registry"].lower()) == (
            SOURCE_NAME,
            src.chain_id,
            src.address.lower(),
        )
        assert (o["export_id"], o["source_batch"]) == (hex(export_id), 1)
        assert (o["source_first_serial"], o["source_last_serial"]) == (1, ISSUED)
        assert o["origin_key"] == "0x" + origin_key(src.chain_id, src.address, export_id).hex()

        rid = f"{dst.chain_id}-{retirement.tx_hash}-{retirement.log_index}"
        r = api.get(f"{V1}/provenance/retirements/{rid}").json()
        assert r["origin"]["export_id"] == hex(export_id) and "kilogram_of_import" not in r["origin"]
        assert r["serial_ranges"][0]["amount_kg"] == 500

        own = api.get(f"{V1}/provenance/serials/1").json()  # the destination's own batch 1: no origin
        assert own["batch_id"] == 1 and own["origin"] is None


def test_an_import_around_the_gate_is_named_but_not_attested(pair: Pair, tmp_path: Path) -> None:
    """A registrar importing straight into the registry (not through the gate) leaves no ImportOrigin:
    the mirror names the registry and key the import claims, and says it is not attested."""
    dst, cast = pair.destination.client, pair.destination.cast
    key = b"\x44" * 32
    credit = (key, short_id(SOURCE_NAME), short_id(PROJECT), cast.buyer.address, 2024, 300, HASH)
    done = dst.transact("importCredits", (random_op_id(), credit))  # the registrar's own key, not the gate
    batch = int(done.event("BatchImported").args["batchId"])
    engine, indexer = _mirror(pair, tmp_path, gate=pair.recognitions.client.address)
    indexer.sync_once()
    with engine.connect() as conn:
        found = import_origin(conn, batch)
        assert found is not None and found["attested"] is False and found["source_batch"] is None
        assert (found["origin_registry"], found["origin_key"]) == (SOURCE_NAME, "0x" + key.hex())
        assert conn.execute(select(ImportOriginRow)).all() == []


def test_a_reorg_of_the_import_removes_its_mirrored_origin(pair: Pair, tmp_path: Path) -> None:
    dst = pair.destination.client
    export_id = pair.export(1_000)
    relay = pair.relay(destination_depth=5)
    assert relay.step().imported == 1
    engine, indexer = _mirror(pair, tmp_path, gate=pair.recognitions.client.address)
    indexer.sync_once()
    with engine.connect() as conn:
        assert len(conn.execute(select(ImportOriginRow)).all()) == 1
    dst.rpc.call("anvil_reorg", 1, [])  # the import's block replaced by an empty one
    indexer.sync_once()
    with engine.connect() as conn:
        assert conn.execute(select(ImportOriginRow)).all() == []
    assert (
        int(dst.view("importedBatch", origin_key(pair.source.client.chain_id, pair.source.client.address, export_id)))
        == 0
    )
