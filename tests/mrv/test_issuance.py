"""A batch's request from its monitoring report (mrv/issuance.py): computed under the methodology
the project is registered under and the version filed on chain, whose document hash must be the
bundle's; every hand-typed field must agree with the result, or nothing is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

import mrv
from chain.errors import InvalidInputError
from chain.types import Ecosystem, Methodology, MethodologyStatus, Project, ProjectStatus
from mrv import issuance

REPORTS = Path(__file__).resolve().parent / "reports"
PID = "P-513233-0001"
GRASS = mrv.bundle("SCGM-001-V01", 1)


def project(methodology_id: str = "SCGM-001-V01") -> Project:
    return Project("0x" + "11" * 20, 513233, ProjectStatus.REGISTERED, 0, methodology_id, 1, 0, 2**40, b"", b"")


def filed(version: int = 1, document_hash: bytes = bytes.fromhex(GRASS.sha256)) -> Methodology:
    return Methodology(Ecosystem.GRASSLAND, MethodologyStatus.FILED, version, document_hash)


def report(name: str = "grassland.csv") -> mrv.MonitoringReport:
    return mrv.load_report(REPORTS / name)


def test_the_request_comes_from_the_result_and_its_hash_is_the_verification_hash() -> None:
    plan = issuance.prepare(report(), PID, project(), filed())
    assert plan.result.quantity_kg == 7_108_255 and plan.bundle.ref == "SCGM-001-V01@1"
    request = plan.request(PID)
    assert request["quantity"] == 7_108_255 and request["reserve_bps"] == 1_000 and request["vintage"] == 2024
    assert request["verification_report_hash"] == bytes.fromhex(plan.result.sha256)
    assert request["monitoring_start"] == 1_609_459_200 and request["monitoring_end"] == 1_735_603_200  # UTC days
    agreeing = issuance.prepare(
        report(), PID, project(), filed(), quantity=7_108_255, monitoring_start=1_609_459_200, reserve_bps=1_000
    )
    assert agreeing.result == plan.result


def test_a_typed_quantity_that_differs_is_refused_with_both_numbers() -> None:
    with pytest.raises(InvalidInputError, match=r"--quantity 7,200,000 kg differs from the 7,108,255 kg"):
        issuance.prepare(report(), PID, project(), filed(), quantity=7_200_000)


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"reserve_bps": 500}, "reserve share of 1000 bps"),
        ({"monitoring_end": 1_735_689_600}, "monitoring period"),
        ({"methodology": "SCWM-001-V01@1"}, "registered under methodology SCGM-001-V01, not SCWM-001-V01"),
    ],
)
def test_a_field_that_disagrees_with_the_report_is_refused(kwargs: dict[str, object], said: str) -> None:
    with pytest.raises(InvalidInputError, match=said):
        issuance.prepare(report(), PID, project(), filed(), **kwargs)  # type: ignore[arg-type]


def test_the_bundle_must_be_the_filed_version_with_the_filed_hash() -> None:
    with pytest.raises(InvalidInputError, match="filed on chain as version 2, not 1"):
        issuance.prepare(report(), PID, project(), filed(version=2), methodology="SCGM-001-V01@1")
    with pytest.raises(InvalidInputError, match=f"hashes to 0x{GRASS.sha256}, but SCGM-001-V01 was filed with"):
        issuance.prepare(report(), PID, project(), filed(document_hash=b"\x5a" * 32))


def test_the_report_must_be_the_projects_and_show_a_gain() -> None:
    with pytest.raises(InvalidInputError, match="the report is for project P-513233-0001, not P-X"):
        issuance.prepare(report(), "P-X", project(), filed())
    with pytest.raises(InvalidInputError, match=r"loss of 278,500 kg.*ledger mrv reversal"):
        issuance.prepare(report("grassland_fire.csv"), PID, project(), filed())
