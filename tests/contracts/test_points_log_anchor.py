"""contracts/PointsLogAnchor.sol on a real anvil: the registry's ANCHORER_ROLE alone anchors, sizes
strictly grow, a root once anchored stays; the deployment records it beside the registry (and adds
it to a record written before it existed); Slither finds nothing of medium or high impact in it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from chain.artifacts import Build
from chain.client import RegistryClient
from chain.deploy import ensure_deployed, record_path
from chain.errors import RegistryRevertError
from chain.keys import dev_accounts
from chain.registry import open_contract
from chain.settings import LOCAL_CHAIN_ID
from chain.sources import collect_sources
from chain.static_analysis import run_slither
from tests.conftest import World

ROOT_A = bytes.fromhex("aa" * 32)
ROOT_B = bytes.fromhex("bb" * 32)


@pytest.fixture
def anchors(world: World) -> RegistryClient:
    d = world.registry.deployment
    return open_contract(
        world.client.rpc, d, contract="PointsLogAnchor", build=world.registry.build, signer=world.cast.anchorer
    )


def test_the_deployment_records_the_anchor_contract_governed_by_the_registry(
    world: World, anchors: RegistryClient
) -> None:
    d = world.registry.deployment
    assert d.points_log and d.points_log not in (d.address, d.revocations)
    assert anchors.view("registry") == d.address
    assert anchors.view("latest") == (0, b"\x00" * 32)  # nothing anchored yet


def test_the_anchorer_anchors_growing_sizes_and_each_root_stays(world: World, anchors: RegistryClient) -> None:
    first = anchors.transact("anchorRoot", (16, ROOT_A))
    event = first.event("PointsLogRootAnchored")
    assert event.args["treeSize"] == 16 and event.args["root"] == ROOT_A
    assert event.args["operator"] == world.cast.anchorer.address
    anchors.transact("anchorRoot", (17, ROOT_B))
    assert anchors.view("latest") == (17, ROOT_B)
    assert anchors.view("anchoredRoot", 16) == ROOT_A  # the earlier root is still there
    assert anchors.view("anchoredRoot", 15) == b"\x00" * 32  # a size never anchored


@pytest.mark.parametrize(
    ("size", "root", "error"),
    [(16, ROOT_B, "TreeSizeNotGrowing"), (10, ROOT_B, "TreeSizeNotGrowing"), (20, b"\x00" * 32, "ZeroRoot")],
)
def test_a_size_that_does_not_grow_or_a_zero_root_is_refused(
    anchors: RegistryClient, size: int, root: bytes, error: str
) -> None:
    anchors.transact("anchorRoot", (16, ROOT_A))
    with pytest.raises(RegistryRevertError) as refused:
        anchors.transact("anchorRoot", (size, root))
    assert refused.value.name == error
    assert anchors.view("latest") == (16, ROOT_A)  # nothing changed: not re-anchored, not overwritten


@pytest.mark.parametrize("who", ["admin", "registrar", "stranger"])
def test_only_the_registrys_anchorer_role_anchors(world: World, anchors: RegistryClient, who: str) -> None:
    with pytest.raises(RegistryRevertError) as refused:
        anchors.transact("anchorRoot", (1, ROOT_A), sender=getattr(world.cast, who))
    assert refused.value.name == "AnchorNotAuthorised"
    assert refused.value.args_by_name["account"] == getattr(world.cast, who).address


def test_revoking_the_role_in_the_registry_stops_the_anchorer(world: World, anchors: RegistryClient) -> None:
    world.client.revoke_role("ANCHORER_ROLE", world.cast.anchorer.address, sender=world.cast.admin)
    with pytest.raises(RegistryRevertError) as refused:
        anchors.transact("anchorRoot", (1, ROOT_A))
    assert refused.value.name == "AnchorNotAuthorised"
    world.client.grant_role("ANCHORER_ROLE", world.cast.stranger.address, sender=world.cast.admin)
    anchors.transact("anchorRoot", (1, ROOT_A), sender=world.cast.stranger)
    assert anchors.view("latest") == (1, ROOT_A)


def test_a_record_written_before_the_contract_existed_gets_it_added(world: World, build: Build, tmp_path: Path) -> None:
    """ensure_deployed deploys only what the record lacks: the registry and its revocations stay."""
    d = world.registry.deployment
    old = {k: v for k, v in asdict(d).items() if k != "points_log"}
    directory = tmp_path / "deployments"
    directory.mkdir()
    record_path(directory, LOCAL_CHAIN_ID).write_text(json.dumps(old))
    again, created = ensure_deployed(
        world.client.rpc, chain_id=LOCAL_CHAIN_ID, build=build, deployer=dev_accounts()[0], directory=directory
    )
    assert not created
    assert (again.address, again.revocations) == (d.address, d.revocations)
    assert again.points_log and again.points_log != d.points_log
    assert json.loads(record_path(directory, LOCAL_CHAIN_ID).read_text())["points_log"] == again.points_log
    fresh = open_contract(world.client.rpc, again, contract="PointsLogAnchor", build=build, signer=world.cast.anchorer)
    assert fresh.view("registry") == d.address


def test_slither_finds_nothing_of_medium_or_high_impact_in_the_anchor_contract() -> None:
    """The contract and what it imports, alone (tests/contracts/test_slither.py gates the whole build,
    this one included, against contracts/slither-triage.toml; this contract needs no entry there)."""
    report = run_slither(collect_sources(("contracts/PointsLogAnchor.sol",)))
    assert report.contracts_analysed == 2 and report.detectors_run >= 90  # PointsLogAnchor, IAccessControl
    assert not report.gated(), report.gated()
