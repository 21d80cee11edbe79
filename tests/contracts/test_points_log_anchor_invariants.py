"""PointsLogAnchor's invariants under random calls: forge (npm) fuzzes tests/contracts/forge_points_log
against the project's own build (the registry behind its proxy, and the anchor contract), checking
all three after every call, 10,000 calls each; and two mutants of the contract fail them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chain.artifacts import Build, write_artifacts
from chain.compiler import _artifacts, run_compiler
from chain.paths import BUILD_DIR
from chain.sources import SOLC_VERSION, collect_sources, standard_input
from tests.contracts.test_invariants import FORGE

FORGE_PROJECT = Path(__file__).resolve().parent / "forge_points_log"
OUT = BUILD_DIR.parent / "forge-points-log"
STATS = OUT / "invariant-stats.txt"
SOURCE = "contracts/PointsLogAnchor.sol"
INVARIANTS = (
    "invariant_sizesOnlyGrow()",
    "invariant_rootsNeverChange()",
    "invariant_onlyTheRoleAnchors()",
)
# PointsLogAnchorHandler.ok, in order
OUTCOMES = ("anchored", "refused: no role", "refused: size not growing", "refused: zero root", "role changes")

pytestmark = pytest.mark.slow


def forge(env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    if not FORGE.exists():
        pytest.fail(f"forge is missing at {FORGE}: run `make deps` (npm ci in hardhat-local)")
    OUT.mkdir(parents=True, exist_ok=True)
    # foundry.toml alone decides runs and depth unless the caller says otherwise
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOUNDRY_", "ANCHOR_ARTIFACT"))}
    done = subprocess.run(
        [str(FORGE), "test", "--json"],
        cwd=FORGE_PROJECT,
        env={**env, **(env_extra or {})},
        capture_output=True,
        text=True,
        timeout=1_200,
        check=False,
    )
    if not done.stdout.strip().startswith("{"):
        pytest.fail(f"forge test produced no results (exit {done.returncode}): {done.stderr[-2000:]}")
    (suite,) = json.loads(done.stdout).values()
    results: dict[str, Any] = suite["test_results"]
    return results


@pytest.fixture(scope="module")
def forge_results(build: Build) -> dict[str, Any]:
    """One forge run of every invariant (the `build` fixture has written build/contracts/artifacts)."""
    STATS.unlink(missing_ok=True)
    return forge()


@pytest.mark.parametrize("name", INVARIANTS)
def test_invariant_holds_after_every_one_of_10000_random_calls(forge_results: dict[str, Any], name: str) -> None:
    result = forge_results[name]
    assert result["status"] == "Success", result.get("reason")
    campaign = result["kind"]["Invariant"]
    assert campaign["calls"] >= 10_000
    assert campaign["reverts"] == 0  # the handler swallows the contract's refusals itself


def test_the_random_calls_anchor_and_are_refused_for_every_reason(forge_results: dict[str, Any]) -> None:
    """Guards against a vacuous campaign: each outcome happened many times over the runs."""
    assert all(forge_results[name]["status"] == "Success" for name in INVARIANTS)
    rows = [[int(x) for x in line.split()] for line in STATS.read_text().splitlines() if line.strip()]
    assert len(rows) >= len(INVARIANTS) * 50  # one line per run
    totals = dict(zip(OUTCOMES, [sum(column) for column in zip(*rows, strict=True)], strict=True))
    assert min(totals.values()) >= 100, totals


def compile_mutant(name: str, old: str, new: str) -> Path:
    """The anchor contract with one text replaced, compiled alone into build/forge-points-log/mutants."""
    sources = collect_sources((SOURCE,))
    assert old in sources[SOURCE]
    sources[SOURCE] = sources[SOURCE].replace(old, new, 1)
    output = run_compiler(standard_input(sources), "solcjs")
    assert not [e for e in output.get("errors", []) if e["severity"] == "error"]
    target = OUT / "mutants" / name
    write_artifacts(Build(SOLC_VERSION, "solcjs", f"mutant-{name}", _artifacts(output)), target)
    return target / "PointsLogAnchor.json"


@pytest.mark.parametrize(
    ("mutant", "old", "new", "broken"),
    [
        (
            "no-role-check",
            "if (!registry.hasRole(ANCHORER_ROLE, msg.sender))",
            "if (!registry.hasRole(ANCHORER_ROLE, msg.sender) && msg.sender == address(1))",
            "invariant_onlyTheRoleAnchors()",
        ),
        ("re-anchor", "if (treeSize <= latest_)", "if (treeSize < latest_)", "invariant_rootsNeverChange()"),
    ],
)
def test_a_mutant_of_the_contract_breaks_its_invariant(
    build: Build, mutant: str, old: str, new: str, broken: str
) -> None:
    artifact = compile_mutant(mutant, old, new)
    results = forge(
        {
            "ANCHOR_ARTIFACT": os.path.relpath(artifact, FORGE_PROJECT),
            "FOUNDRY_INVARIANT_RUNS": "10",
            # a mutant's counterexamples of its own: never replayed against the real contract
            "FOUNDRY_INVARIANT_FAILURE_PERSIST_DIR": os.path.relpath(artifact.parent / "failures", FORGE_PROJECT),
            "FOUNDRY_INVARIANT_DEPTH": "100",
        }
    )
    assert results[broken]["status"] == "Failure"
