"""Two anvils, a registry on each: the source (Sichuan) and the destination (Chongqing), each
populated like the contract tests' world (tests/conftest.py). The destination registered the same
project (项目互认) under the same id; its registry sits at another address (the deployer's nonce
is bumped first), so the two registries are told apart as they would be on two real chains."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bridge.recognition import Recognition, RecognitionContract, deploy_recognitions, grant_gate_roles
from bridge.relay import Endpoint, Relay
from chain.artifacts import Build
from chain.client import RegistryClient
from chain.keys import dev_accounts
from chain.node import LocalNode
from chain.opids import random_op_id
from chain.rpc import JsonRpc
from tests.conftest import CREDITING, HASH, METHODOLOGY, MONITORING, Cast, World, deploy_world

SOURCE_NAME = "SC-LINCAO"
DESTINATION_NAME = "CQ-TANHUITONG"
OTHER_METHODOLOGY = "SCGM-002-V01"  # illustrative: a grassland methodology Chongqing does not recognise
OTHER_PROJECT = "P-511802-0002"
OTHER_ISSUED = 50_000


@dataclass
class Pair:
    source: World
    destination: World
    source_node: LocalNode
    destination_node: LocalNode
    other_batch: int  # on the source: a batch under OTHER_METHODOLOGY, all held by the owner
    recognitions: RecognitionContract  # the destination's record: METHODOLOGY of SOURCE_NAME recognised

    def endpoints(self, *, source_depth: int = 0, destination_depth: int = 0) -> tuple[Endpoint, Endpoint]:
        return (
            Endpoint(self.source.client, SOURCE_NAME, depth=source_depth),
            Endpoint(self.destination.client, DESTINATION_NAME, depth=destination_depth),
        )

    def relay(self, recognised: str | None = None, **depths: int) -> Relay:
        """The relay reading the destination's recognitions contract, or with `recognised` a configured list."""
        source, destination = self.endpoints(**depths)
        recognition = self.recognitions if recognised is None else Recognition.parse(recognised)
        return Relay(source, destination, recognition, settle_timeout=5.0)

    def export(self, amount: int, *, to: str | None = None, holder: str | None = None, batch: int | None = None) -> int:
        """Request an export to the destination on the source; returns the export id."""
        cast = self.source.cast
        export_id = random_op_id()
        account = bytes(12) + bytes.fromhex((to or cast.buyer.address)[2:])
        self.source.client.request_export(
            export_id,
            holder or cast.holder.address,
            batch if batch is not None else self.source.batch_id,
            amount,
            DESTINATION_NAME,
            account,
        )
        return export_id


def add_other_batch(client: RegistryClient, cast: Cast) -> int:
    op = random_op_id
    client.file_methodology(op(), OTHER_METHODOLOGY, 1, 1, HASH)
    client.register_project(
        op(),
        project_id=OTHER_PROJECT,
        methodology_id=OTHER_METHODOLOGY,
        owner=cast.owner.address,
        county_code=511802,
        area_square_metres=1_000_000,
        crediting_start=CREDITING[0],
        crediting_end=CREDITING[1],
        documents_hash=HASH,
        parcels=[b"\x03" * 32],
    )
    client.review_project(op(), OTHER_PROJECT, True, HASH, sender=cast.reviewer)
    result = client.issue(
        op(),
        project_id=OTHER_PROJECT,
        vintage=2024,
        monitoring_start=MONITORING[0],
        monitoring_end=MONITORING[1],
        quantity=OTHER_ISSUED,
        reserve_bps=0,
        verification_report_hash=HASH,
    )
    return int(result.event("BatchIssued").args["batchId"])


@pytest.fixture(scope="session")
def pair_base(build: Build, cast: Cast, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with LocalNode(block_time=None) as a, LocalNode(block_time=None) as b:
        source = deploy_world(a.url, tmp_path_factory.mktemp("source"), build, cast)
        admin = dev_accounts()[0]
        b_rpc = JsonRpc(b.url)
        for _ in range(3):  # another deployer nonce: another registry address than the source's
            b_rpc.call("eth_sendTransaction", {"from": admin.address, "to": admin.address, "value": "0x0"})
        destination = deploy_world(b.url, tmp_path_factory.mktemp("destination"), build, cast)
        other = add_other_batch(source.client, cast)
        d = destination.client
        contract = deploy_recognitions(d.rpc, chain_id=d.chain_id, deployer=admin, registry=d.address, build=build)
        # the gate imports; the relay (the registrar's key here) may use the gate
        grant_gate_roles(d, contract, [cast.registrar.address], admin=cast.admin)
        recognitions = RecognitionContract.at(d.rpc, contract, chain_id=d.chain_id, signer=cast.registrar)
        recognitions.recognise(SOURCE_NAME, METHODOLOGY, HASH)
        yield Pair(source, destination, a, b, other, recognitions)


@pytest.fixture
def pair(pair_base: Pair) -> Iterator[Pair]:
    rpcs = [pair_base.source.client.rpc, pair_base.destination.client.rpc]
    snapshots = [rpc.call("evm_snapshot") for rpc in rpcs]
    yield pair_base
    for rpc, snapshot in zip(rpcs, snapshots, strict=True):
        rpc.call("evm_setAutomine", True)
        rpc.call("evm_revert", snapshot)
