"""The registry is a UUPS proxy: an upgrade by the admin keeps every balance and record."""

from __future__ import annotations

import pytest

from chain.deploy import deploy_bytecode
from chain.errors import RegistryRevertError
from tests.conftest import HOLDER_START, PROJECT, World


def test_an_upgrade_keeps_all_state_and_only_the_admin_may_upgrade(world: World) -> None:
    c, cast = world.client, world.cast
    before = (
        c.supply(world.batch_id),
        c.project(PROJECT),
        c.participant(cast.holder.address),
        c.roles_of(cast.registrar.address),
    )
    v2 = world.registry.build["CarbonRegistryV2Example"]
    implementation, _ = deploy_bytecode(c.rpc, c.chain_id, cast.admin, bytes.fromhex(v2.bytecode))
    with pytest.raises(RegistryRevertError, match="AccessControlUnauthorizedAccount"):
        c.upgrade_to(implementation, sender=cast.registrar)
    assert c.registry_version() == 1
    result = c.upgrade_to(implementation, sender=cast.admin)
    assert result.event("Upgraded").args["implementation"] == implementation
    assert c.registry_version() == 2
    after = (
        c.supply(world.batch_id),
        c.project(PROJECT),
        c.participant(cast.holder.address),
        c.roles_of(cast.registrar.address),
    )
    assert after == before
    assert c.balance_of(cast.holder.address, world.batch_id) == HOLDER_START


def test_the_implementation_cannot_be_initialised_directly(world: World) -> None:
    c = world.client
    sim = c.simulate("initialize", (world.cast.stranger.address, ""), sender=world.cast.stranger)
    assert sim.error is not None and sim.error.name == "InvalidInitialization"  # the proxy is initialised
    direct = type(c)(c.rpc, world.registry.deployment.implementation, c.abi, chain_id=c.chain_id)
    sim = direct.simulate("initialize", (world.cast.stranger.address, ""), sender=world.cast.stranger)
    assert sim.error is not None and sim.error.name == "InvalidInitialization"  # constructor disabled it
