"""The public breakdown of a batch (`GET /api/v1/batches/{id}/monitoring`) and the audit's
recomputation of every batch issued from a stored report, on a registry with both kinds of batch:
the world's, issued with a typed quantity (unverifiable), and one issued from a report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

import mrv
from audit.chain_state import read_chain
from audit.reconcile import recompute_batches, reconcile
from mrv import store
from tests.api.conftest import Certified, api, certified, monkeypatch_module  # noqa: F401  # the fixtures
from tests.mrv.onchain import REPORT, issue_monitored

V1 = "/api/v1"


@pytest.fixture(scope="module")
def monitored(certified: Certified) -> int:  # noqa: F811
    return issue_monitored(certified.service, certified.world.cast)


@pytest.fixture
def tampered(certified: Certified, monitored: int) -> Iterator[None]:  # noqa: F811
    """The stored report edited behind the registry's back (one quadrat's biomass), then put back."""
    data = REPORT.read_bytes()
    with certified.service.engine.begin() as conn:
        conn.execute(update(store.StoredReport).values(body=data.replace(b"Q1,2024-08-15,1.5", b"Q1,2024-08-15,2.5")))
    yield
    with certified.service.engine.begin() as conn:
        conn.execute(update(store.StoredReport).values(body=data))


def test_the_breakdown_is_served_and_recomputes(api: TestClient, monitored: int) -> None:  # noqa: F811
    answer = api.get(f"{V1}/batches/{monitored}/monitoring")
    assert answer.status_code == 200, answer.text
    served = answer.json()
    expected = mrv.compute(mrv.load_report(REPORT), mrv.bundle("SCGM-001-V01", 1))
    assert served["matches"] and served["problem"] is None
    assert served["issued_kg"] == served["recomputed_quantity_kg"] == expected.quantity_kg == 7_108_255
    assert served["methodology"] == "SCGM-001-V01@1" and served["project_id"] == "P-513233-0001"
    assert served["hashes"] == {
        "verification_report_hash": "0x" + expected.sha256,
        "result_sha256": "0x" + expected.sha256,
        "report_sha256": "0x" + expected.report_sha256,
        "methodology_sha256": "0x" + expected.methodology_sha256,
    }
    assert served["breakdown"] == expected.document()
    assert [p["id"] for p in served["report"]["plots"]] == ["Q1", "Q2", "Q3"]
    assert served["report"]["visits"][0] == {
        "plot": "Q1",
        "date": "2021-08-15",
        "agb_t_dm_ha": "1.0",
        "soc_t_c_ha": "80",
    }


def test_a_breakdown_asked_again_is_not_recomputed(api: TestClient, monitored: int) -> None:  # noqa: F811
    """The result is a function of the report's bytes: a second request is answered from the cache,
    with the same body, and the cache is bounded."""
    first = api.get(f"{V1}/batches/{monitored}/monitoring").json()
    before = store._recompute.cache_info()
    again = api.get(f"{V1}/batches/{monitored}/monitoring").json()
    after = store._recompute.cache_info()
    assert again == first and first["matches"]
    assert (after.hits, after.misses) == (before.hits + 1, before.misses) and after.maxsize == 256


def test_a_batch_without_a_report_is_a_404_problem(api: TestClient, certified: Certified) -> None:  # noqa: F811
    for path, status in [
        (f"{V1}/batches/{certified.world.batch_id}/monitoring", 404),
        (f"{V1}/batches/999999/monitoring", 404),
        (f"{V1}/batches/x/monitoring", 422),
    ]:
        answer = api.get(path)
        assert answer.status_code == status and answer.headers["content-type"].startswith("application/problem+json")
    said = api.get(f"{V1}/batches/{certified.world.batch_id}/monitoring").json()["detail"]
    assert said == (
        f"no monitoring report for batch {certified.world.batch_id}; it was imported or issued without one "
        "(its quantity cannot be recomputed here)"
    )


def audit(certified: Certified) -> Any:  # noqa: F811
    service = certified.service
    chain = read_chain(service.client, service.context.deployment.block_number)
    with service.engine.connect() as conn:
        return reconcile(chain, conn, service.context.log)


def test_the_audit_recomputes_the_reported_batch_and_lists_the_rest_unverifiable(
    certified: Certified,  # noqa: F811
    monitored: int,
) -> None:
    report = audit(certified)
    assert report.checked["monitoring_reports"] == 1 and report.monitoring["recomputed"] == 1
    assert report.monitoring["unverifiable"] == {"count": 1, "batches": [certified.world.batch_id]}
    assert not [d for d in report.differences if d.check == "monitoring"]
    assert report.as_json()["monitoring"]["outstanding_reversals"] == []


def test_a_stored_report_edited_afterwards_is_a_difference(
    certified: Certified,  # noqa: F811
    monitored: int,
    tampered: None,
    api: TestClient,  # noqa: F811
) -> None:
    [difference] = [d for d in audit(certified).differences if d.check == "monitoring"]
    assert difference.subject == f"batch {monitored}" and "no longer hashes to its key" in difference.detail
    assert difference.tx_hash is not None  # the issuing transaction, to look it up
    served = api.get(f"{V1}/batches/{monitored}/monitoring").json()
    assert (
        not served["matches"] and served["recomputed_quantity_kg"] is None and "no longer hashes" in served["problem"]
    )


def test_recomputation_names_a_quantity_or_a_hash_that_differs() -> None:
    data = REPORT.read_bytes()
    result = mrv.compute(mrv.parse_report(data, REPORT.name), mrv.bundle("SCGM-001-V01", 1))
    stored = store.Stored(result.sha256, result.document(), data, result.quantity_kg, 0, "SCGM-001-V01@1")
    other = "ab" * 32
    shifted = store.Stored(other, {}, data, result.quantity_kg, 0, "SCGM-001-V01@1")
    found = recompute_batches(
        {1: "0x" + result.sha256, 2: "0x" + result.sha256, 3: "0x" + other, 4: "0x" + "cd" * 32},
        {1: result.quantity_kg, 2: result.quantity_kg + 1, 3: result.quantity_kg, 4: 5},
        {result.sha256: stored, other: shifted},
    )
    assert found.recomputed == [1, 2, 3]  # 4 has no stored report: unverifiable, not a difference
    assert found.differences == [
        (2, "the chain issued 7,108,256 kg, its monitoring report recomputes to 7,108,255 kg"),
        (
            3,
            f"the on-chain verification hash 0x{other} is not the recomputed result's 0x{result.sha256} "
            "(its report or SCGM-001-V01@1 changed since it was issued)",
        ),
    ]
