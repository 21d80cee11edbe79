"""Slither (static analysis) on the registry's sources: no high or medium finding left unexplained."""

from __future__ import annotations

import pytest

from chain.static_analysis import TRIAGE_FILE, SlitherReport, load_triage, run_slither, stale, untriaged

# a contract with one high-impact bug (anyone may take the ether: arbitrary-send-eth)
PLANTED = """// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

contract Leaky {
    function deposit() external payable {}

    function drainTo(address payable to) external {
        to.transfer(address(this).balance);
    }
}
"""


@pytest.fixture(scope="module")
def report() -> SlitherReport:
    return run_slither()


def test_slither_analysed_the_registry_and_its_dependencies(report: SlitherReport) -> None:
    assert report.contracts_analysed >= 30 and report.detectors_run >= 90
    files = {f.file for f in report.findings}
    assert "contracts/CarbonRegistry.sol" in files  # its low/informational findings show it was read


def test_every_high_or_medium_finding_is_explained_in_the_triage_file(report: SlitherReport) -> None:
    missing = untriaged(report, load_triage())
    assert not missing, f"explain or fix in {TRIAGE_FILE.name}: " + "; ".join(
        f"{f.impact} {f.detector} {f.file} {f.location}" for f in missing
    )


def test_every_triage_entry_still_matches_a_finding_and_gives_a_reason(report: SlitherReport) -> None:
    triage = load_triage()
    assert triage and all(len(entry.reason) > 40 for entry in triage)
    assert not stale(report, triage)


def test_the_gate_catches_a_planted_high_finding() -> None:
    planted = run_slither({"contracts/Leaky.sol": PLANTED})
    missing = untriaged(planted, load_triage())
    assert [(f.impact, f.detector, f.location) for f in missing] == [
        ("High", "arbitrary-send-eth", "Leaky.drainTo(address)")
    ]
