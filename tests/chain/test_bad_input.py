"""Bad input gets an error that names the problem, and nothing is sent."""

from __future__ import annotations

import pytest

from chain.errors import InvalidInputError, RegistryRevertError
from chain.types import Scenario
from tests.conftest import HASH, HOLDER_START, World


def nonce(world: World, account) -> int:
    return int(world.client.rpc.call("eth_getTransactionCount", account.address, "latest"), 16)


def test_zero_and_negative_amounts_are_refused_before_sending(world: World) -> None:
    c, holder = world.client, world.cast.holder
    before = nonce(world, holder)
    for bad in (0, -5):
        with pytest.raises(InvalidInputError, match="amount must be a whole number of kgCO2e above zero"):
            c.transfer(holder.address, world.cast.buyer.address, world.batch_id, bad, sender=holder)
        with pytest.raises(InvalidInputError, match="amount"):
            c.retire(world.op(), world.batch_id, bad, Scenario.PERSONAL, HASH, HASH, sender=holder)
    assert nonce(world, holder) == before
    # the contract refuses them too, for callers that skip the client
    sim = c.simulate("retire", (world.op(), world.batch_id, 0, 0, HASH, HASH), sender=holder)
    assert sim.error is not None and sim.error.name == "RegistryZeroAmount"


def test_an_unknown_batch_is_named(world: World) -> None:
    with pytest.raises(RegistryRevertError) as refused:
        world.client.retire(world.op(), 999, 1, Scenario.PERSONAL, HASH, HASH, sender=world.cast.holder)
    assert refused.value.name == "RegistryUnknownBatch" and refused.value.args_by_name == {"batchId": 999}
    assert "RegistryUnknownBatch(batchId=999): no such batch" in str(refused.value)


def test_more_than_the_free_balance_names_free_and_needed(world: World) -> None:
    holder = world.cast.holder
    with pytest.raises(RegistryRevertError) as refused:
        world.client.transfer(holder.address, world.cast.buyer.address, world.batch_id, HOLDER_START + 1, sender=holder)
    assert refused.value.args_by_name == {
        "holder": holder.address, "batchId": world.batch_id, "free": HOLDER_START, "needed": HOLDER_START + 1,
    }


def test_pledged_units_are_not_free(world: World) -> None:
    c, holder = world.client, world.cast.holder
    c.pledge(world.op(), world.batch_id, HOLDER_START, world.cast.pledgee.address, HASH, sender=holder)
    with pytest.raises(RegistryRevertError) as refused:
        c.retire(world.op(), world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=holder)
    assert refused.value.args_by_name["free"] == 0
    assert "pledged and frozen units cannot move" in str(refused.value)


@pytest.mark.parametrize("bad", ["0x123", "not-an-address", "0x" + "g" * 40, ""])
def test_malformed_addresses_are_named(world: World, bad: str) -> None:
    with pytest.raises(InvalidInputError, match="recipient .* is not an address"):
        world.client.transfer(world.cast.holder.address, bad, world.batch_id, 1, sender=world.cast.holder)


def test_malformed_ids_and_hashes_are_named(world: World) -> None:
    c = world.client
    with pytest.raises(InvalidInputError, match="project id: id 'x+' must be 1-31 printable ASCII characters"):
        c.issue(world.op(), project_id="x" * 40, vintage=2024, monitoring_start=1, monitoring_end=2, quantity=1,
                reserve_bps=0, verification_report_hash=HASH)
    with pytest.raises(InvalidInputError, match="claim hash must be 32 bytes"):
        c.retire(world.op(), world.batch_id, 1, Scenario.PERSONAL, HASH, b"short", sender=world.cast.holder)
    with pytest.raises(InvalidInputError, match="reserve share 12000"):
        c.issue(world.op(), project_id="P", vintage=2024, monitoring_start=1, monitoring_end=2, quantity=1,
                reserve_bps=12_000, verification_report_hash=HASH)
