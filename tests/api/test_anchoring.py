"""The anchoring policy (after N entries, or T seconds, or on demand), and the certificate
service on PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from certificates.anchoring import AnchorPolicy, anchor_due
from certificates.verify import verify_document
from chain.node import LocalNode
from chain.types import Scenario
from indexer.db import drop_schema, make_engine
from tests.api.conftest import Certified, open_certified


def test_the_policy_counts_entries_and_seconds(certified: Certified) -> None:
    engine, log = certified.service.engine, certified.service.context.log
    size = log.size()
    patient = AnchorPolicy(every=2, interval=3600)
    assert not anchor_due(engine, log, size, patient)  # nothing new
    assert not anchor_due(engine, log, size - 1, patient)  # one new entry, young
    assert anchor_due(engine, log, size - 2, patient)  # two new entries
    assert anchor_due(engine, log, size - 1, patient, now=time.time() + 3601)  # one entry, an hour old


def test_certificates_wait_for_the_policy_then_get_their_proof(certified: Certified) -> None:
    service = certified.service
    policy = service.context.settings
    policy.anchor_every, policy.anchor_interval = 2, 3600
    try:
        first = certified.certify_new(Scenario.VOLUNTARY, 2, "甲", fields={"message": "one"})
        assert service.document(first)["proof"] is None  # one entry: not yet
        second = certified.certify_new(Scenario.VOLUNTARY, 2, "乙", fields={"message": "two"})
        for cert_id in (first, second):
            doc = service.document(cert_id)
            assert doc["proof"]["tree_size"] == service.context.log.size()
            assert verify_document(doc, service.context.evidence).status == "valid"
    finally:
        policy.anchor_every, policy.anchor_interval = 1, 60.0


def test_the_certificate_service_on_postgresql(build: Any, cast: Any, postgres_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    engine = make_engine(postgres_url)
    drop_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_api"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_mrv, mrv_reports, mrv_results, mrv_reversals"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_footprint, footprint_factors"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_land, land_parcels"))
    with LocalNode(block_time=None) as node:
        on_pg = open_certified(tmp_path, build, cast, node, database_url=postgres_url)
        assert on_pg.service.engine.url.get_backend_name() == "postgresql"
        for cert_id in on_pg.ids.values():
            for doc in (on_pg.public(cert_id), on_pg.holder_copy(cert_id)):
                assert verify_document(doc, on_pg.service.context.evidence).status == "valid", cert_id
