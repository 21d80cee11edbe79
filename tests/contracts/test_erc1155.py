"""ERC-1155 conformance: balanceOfBatch, receiver hooks, supportsInterface."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode

from chain.abi import ContractAbi
from chain.deploy import deploy_bytecode
from chain.errors import RegistryRevertError
from chain.types import ParticipantKind
from tests.conftest import HASH, HOLDER_START, ISSUED, MONITORING, PROJECT, World

INTERFACES = {
    "ERC165": "0x01ffc9a7",
    "ERC1155": "0xd9b67a26",
    "ERC1155MetadataURI": "0x0e89341c",
    "AccessControl": "0x7965db0b",
}


def test_supports_the_standard_interfaces(world: World) -> None:
    for name, interface_id in INTERFACES.items():
        assert world.client.view("supportsInterface", bytes.fromhex(interface_id[2:])), name
    assert not world.client.view("supportsInterface", b"\xff\xff\xff\xff")


def test_balance_of_batch(world: World) -> None:
    c, cast = world.client, world.cast
    owners = [cast.owner.address, cast.holder.address, c.reserve_account(), cast.stranger.address]
    balances = c.view("balanceOfBatch", owners, [world.batch_id] * 4)
    assert balances == [ISSUED - ISSUED // 10 - HOLDER_START, HOLDER_START, ISSUED // 10, 0]
    with pytest.raises(RegistryRevertError, match="ERC1155InvalidArrayLength"):
        c.view("balanceOfBatch", owners, [world.batch_id])


def test_batch_transfer_moves_several_batches(world: World) -> None:
    c, cast = world.client, world.cast
    second = (
        c.issue(
            world.op(),
            project_id=PROJECT,
            vintage=2024,
            monitoring_start=MONITORING[0],
            monitoring_end=MONITORING[1],
            quantity=50,
            reserve_bps=0,
            verification_report_hash=HASH,
        )
        .event("BatchIssued")
        .args["batchId"]
    )
    result = c.transfer_batch(
        cast.owner.address, cast.buyer.address, [world.batch_id, second], [7, 9], sender=cast.owner
    )
    assert result.event("TransferBatch").args["values"] == [7, 9]
    assert c.view("balanceOfBatch", [cast.buyer.address] * 2, [world.batch_id, second]) == [7, 9]
    with pytest.raises(RegistryRevertError, match="RegistryZeroAmount"):
        c.transact(
            "safeBatchTransferFrom", (cast.owner.address, cast.buyer.address, [second], [0], b""), sender=cast.owner
        )


def deploy_receiver(world: World, accepts: bool) -> str:
    artifact = world.registry.build["ERC1155ReceiverExample"]
    code = bytes.fromhex(artifact.bytecode) + abi_encode(["bool"], [accepts])
    address, _ = deploy_bytecode(world.client.rpc, world.client.chain_id, world.cast.admin, code)
    world.client.register_participant(world.op(), address, ParticipantKind.ENTERPRISE)
    return address


def test_a_contract_holder_must_accept_through_the_receiver_hook(world: World) -> None:
    c, cast = world.client, world.cast
    accepting = deploy_receiver(world, True)
    refusing = deploy_receiver(world, False)
    c.transfer(cast.holder.address, accepting, world.batch_id, 11, sender=cast.holder)
    receiver = ContractAbi(world.registry.build["ERC1155ReceiverExample"].abi)
    data = receiver.encode_call("received", ())
    seen = c.rpc.call("eth_call", {"to": accepting, "data": "0x" + data.hex()}, "latest")
    assert int(seen, 16) == 11
    with pytest.raises(RegistryRevertError) as refused:
        c.transfer(cast.holder.address, refusing, world.batch_id, 11, sender=cast.holder)
    assert refused.value.name == "ERC1155InvalidReceiver"
    with pytest.raises(RegistryRevertError, match="ERC1155InvalidReceiver"):
        c.transfer_batch(cast.holder.address, refusing, [world.batch_id], [1], sender=cast.holder)
