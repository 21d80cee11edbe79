"""The local nodes: anvil keeps its chain across restarts; Hardhat 2 runs the same smoke scenario."""

from __future__ import annotations

from chain.deploy import is_live
from chain.local import open_local_registry
from chain.node import LocalNode
from chain.types import Scenario
from tests.conftest import HASH, HOLDER_START, ISSUED, deploy_world


def test_anvil_restarted_from_its_state_file_still_has_every_balance(build, cast, tmp_path) -> None:
    state = tmp_path / "anvil" / "state.json"
    with LocalNode(block_time=None, state_file=state) as node:
        world = deploy_world(node.url, tmp_path / "d", build, cast)
        batch_id = world.batch_id
        world.client.retire(7, batch_id, 5, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
        port = node.port
    assert state.exists()
    with LocalNode(block_time=None, state_file=state, port=port) as node:
        again = open_local_registry(node.url, deployments_dir=tmp_path / "d", build=build)
        assert not again.created and is_live(again.client.rpc, again.deployment)
        c = again.client
        assert c.balance_of(cast.holder.address, batch_id) == HOLDER_START - 5
        assert c.supply(batch_id).retired == 5 and c.supply(batch_id).issued == ISSUED
        assert c.is_operation_applied(7)
        logs = c.rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": c.address})
        assert any(e.name == "CreditsRetired" for e in c.decode_events(logs))


def test_the_smoke_scenario_passes_on_hardhat(build, cast, tmp_path) -> None:
    with LocalNode(kind="hardhat") as node:
        world = deploy_world(node.url, tmp_path, build, cast)
        c, batch_id = world.client, world.batch_id
        c.retire(1, batch_id, 250, Scenario.TREE_PLANTING_DUTY, HASH, HASH, sender=cast.holder)
        supply = c.supply(batch_id)
        assert (supply.issued, supply.retired, supply.circulating) == (ISSUED, 250, ISSUED - 250)
        assert c.balance_of(cast.holder.address, batch_id) == HOLDER_START - 250
