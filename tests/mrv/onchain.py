"""A batch issued from a monitoring report in a test registry, for the tests that need one beside
their own world (the API's shapes, the audit): SCGM-001-V01 filed with its bundle's hash, the
grassland project registered under it, tests/mrv/reports/grassland.csv stored and issued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mrv
from certificates.service import CertificateService
from chain.opids import random_op_id
from chain.types import Ecosystem
from mrv import issuance
from mrv import store as mrv_store

REPORT = Path(__file__).resolve().parent / "reports" / "grassland.csv"
PID = "P-513233-0001"
CREDITING = (1_609_459_200, 2_240_524_800)  # 2021-01-01 .. 2041-01-01


def issue_monitored(service: CertificateService, cast: Any) -> int:
    """The batch id; the mirror has caught up with it."""
    client, op = service.client, random_op_id
    registrar = cast.registrar
    grass = mrv.bundle("SCGM-001-V01", 1)
    client.file_methodology(op(), grass.id, Ecosystem.GRASSLAND, 1, bytes.fromhex(grass.sha256), sender=registrar)
    client.register_project(
        op(),
        project_id=PID,
        methodology_id=grass.id,
        owner=cast.owner.address,
        county_code=513233,
        area_square_metres=10_000_000,
        crediting_start=CREDITING[0],
        crediting_end=CREDITING[1],
        documents_hash=b"\x42" * 32,
        parcels=[b"\x0d" * 32],
        sender=registrar,
    )
    client.review_project(op(), PID, True, b"\x42" * 32, sender=cast.reviewer)
    data = REPORT.read_bytes()
    project = client.project(PID)
    plan = issuance.prepare(mrv.parse_report(data, REPORT.name), PID, project, client.methodology(grass.id))
    with service.engine.begin() as conn:
        mrv_store.put(conn, data, plan.result)
    issued = client.issue(op(), **plan.request(PID), sender=registrar)
    service.catch_up(int(client.rpc.call("eth_blockNumber"), 16))
    return int(issued.event("BatchIssued").args["batchId"])
