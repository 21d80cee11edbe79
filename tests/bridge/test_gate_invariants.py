"""The import gate's invariants under random calls: forge (npm) fuzzes tests/contracts/forge/gate
against the project's own build of the registry and the gate, all three invariants after every
call, 10,000 calls each: a key is imported or refused never both; no import passes unrecognised,
refused, twice, with a wrong origin or evidence, or by a stranger; the imported batches hold what
was imported."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chain.artifacts import Build
from chain.paths import BUILD_DIR, HARDHAT_DIR

FORGE = HARDHAT_DIR / "node_modules" / "@foundry-rs" / "forge-linux-amd64" / "bin" / "forge"
PROJECT = Path(__file__).resolve().parents[1] / "contracts" / "forge" / "gate"
STATS = BUILD_DIR.parent / "forge-gate" / "invariant-stats.txt"
INVARIANTS = (
    "invariant_aKeyIsImportedOrRefusedNeverBoth()",
    "invariant_noImportPassesWhatTheGateChecks()",
    "invariant_importedSupplyIsWhatWasImported()",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def forge_results(build: Build) -> dict[str, Any]:
    """One forge run of every invariant (the `build` fixture has written build/contracts/artifacts)."""
    if not FORGE.exists():
        pytest.fail(f"forge is missing at {FORGE}: run `make deps` (npm ci in hardhat-local)")
    STATS.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOUNDRY_")}
    done = subprocess.run(
        [str(FORGE), "test", "--json"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=1_200, check=False
    )
    if not done.stdout.strip().startswith("{"):
        pytest.fail(f"forge test produced no results (exit {done.returncode}): {done.stderr[-2000:]}")
    (suite,) = json.loads(done.stdout).values()
    return dict(suite["test_results"])


@pytest.mark.parametrize("name", INVARIANTS)
def test_gate_invariant_holds_after_every_one_of_10000_random_calls(forge_results: dict[str, Any], name: str) -> None:
    result = forge_results[name]
    assert result["status"] == "Success", result.get("reason")
    campaign = result["kind"]["Invariant"]
    assert campaign["calls"] >= 10_000
    assert campaign["reverts"] == 0  # the handler swallows the gate's refusals itself


def test_the_random_calls_imported_refused_and_were_refused(forge_results: dict[str, Any]) -> None:
    """Guards against a vacuous campaign: across the runs, imports succeeded, keys were refused and
    the gate turned imports down, each many times."""
    assert all(forge_results[name]["status"] == "Success" for name in INVARIANTS)
    rows = [[int(x) for x in line.split()] for line in STATS.read_text().splitlines() if line.strip()]
    assert len(rows) >= len(INVARIANTS) * 50
    imports, refusals, turned_down = (sum(column) for column in zip(*rows, strict=True))
    assert imports >= 500 and refusals >= 500 and turned_down >= 1_000, (imports, refusals, turned_down)
