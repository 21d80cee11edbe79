"""The registry's invariants under random calls: forge (npm) fuzzes tests/contracts/forge against the
project's own build of the registry, checking all five after every call, 10,000 calls each."""

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
FORGE_PROJECT = Path(__file__).resolve().parent / "forge"
STATS = BUILD_DIR.parent / "forge" / "invariant-stats.txt"
INVARIANTS = (
    "invariant_supplyConservedPerBatch()",
    "invariant_lockedUnitsNeverMove()",
    "invariant_barredParticipantsNeverMove()",
    "invariant_retiredUnitsNeverMoveAgain()",
    "invariant_operationIdsApplyOnce()",
)
# RegistryHandler.ok, in order, then the replays tried, the batches and the open locks at the end of a run
OPERATIONS = (
    "issue",
    "import",
    "transfer",
    "retire",
    "retireFor",
    "cancel",
    "requestExport",
    "confirmExport",
    "abortExport",
    "pledge",
    "releasePledge",
    "enforcePledge",
    "setStatus",
    "approve",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def forge_results(build: Build) -> dict[str, Any]:
    """One forge run of every invariant (the `build` fixture has written build/contracts/artifacts)."""
    if not FORGE.exists():
        pytest.fail(f"forge is missing at {FORGE}: run `make deps` (npm ci in hardhat-local)")
    STATS.unlink(missing_ok=True)
    # foundry.toml alone decides runs and depth: no inherited FOUNDRY_* override
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOUNDRY_", "REGISTRY_ARTIFACTS"))}
    done = subprocess.run(
        [str(FORGE), "test", "--json"],
        cwd=FORGE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1_200,
        check=False,
    )
    if not done.stdout.strip().startswith("{"):
        pytest.fail(f"forge test produced no results (exit {done.returncode}): {done.stderr[-2000:]}")
    (suite,) = json.loads(done.stdout).values()
    return suite["test_results"]


@pytest.mark.parametrize("name", INVARIANTS)
def test_invariant_holds_after_every_one_of_10000_random_calls(forge_results: dict[str, Any], name: str) -> None:
    result = forge_results[name]
    assert result["status"] == "Success", result.get("reason")
    campaign = result["kind"]["Invariant"]
    assert campaign["calls"] >= 10_000
    # the handler swallows the registry's refusals itself: a revert here would be a handler bug
    assert campaign["reverts"] == 0


def test_the_random_calls_succeed_at_every_operation_and_replay_applied_ids(forge_results: dict[str, Any]) -> None:
    """Guards against a vacuous campaign: each operation kind succeeded many times, applied ids were
    replayed often (and every replay was refused, per invariant_operationIdsApplyOnce)."""
    assert all(forge_results[name]["status"] == "Success" for name in INVARIANTS)
    rows = [[int(x) for x in line.split()] for line in STATS.read_text().splitlines() if line.strip()]
    assert len(rows) >= len(INVARIANTS) * 50  # one line per run
    totals = [sum(column) for column in zip(*rows, strict=True)]
    succeeded = dict(zip(OPERATIONS, totals, strict=False))
    assert min(succeeded.values()) >= 100, succeeded
    replays, batches = totals[len(OPERATIONS)], totals[len(OPERATIONS) + 1]
    assert replays >= 2_000
    assert batches > len(rows)  # runs issued or imported beyond the first batch
