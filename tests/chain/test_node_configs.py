"""The smoke scenario on five node configurations: anvil at cancun, shanghai, london and berlin
(no base fee: legacy transactions), and Hardhat 2. On each: deploy the build for the node's EVM
target → register → issue → transfer (tests/conftest.py populate) → retire → certify (the
certificate service, anchoring included) → verify (against the node) → audit (reconcile clean);
then the bulk sender applies a few hundred operations exactly once, and a backfill mirrors them."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from api.app import create_app
from audit.chain_state import read_chain
from audit.reconcile import reconcile
from certificates.evidence import ChainEvidence
from certificates.verify import verify_document
from chain.compiler import compile_contracts
from chain.node import LocalNode
from chain.probe import available_features, required_features
from chain.rpc import JsonRpc
from chain.sender import BulkSender
from indexer.models import Retirement
from scripts.audit_commands import in_process_api
from tests.api.conftest import DEMO, Certified, open_certified
from tests.chain.bulk_run import operations
from tests.conftest import Cast
from tests.indexer.helpers import check_against_chain, new_indexer

BULK = 300  # alternating retirements and referenced transfers (tests/chain/bulk_run.py)
BUDGET = 60.0  # seconds per configuration


@dataclass(frozen=True)
class Config:
    node: str  # "anvil" or "hardhat"
    args: tuple[str, ...]
    target: str  # the EVM target the registry is built for
    fee_model: str  # what the client must pick from the node


CONFIGS = {
    "anvil-cancun": Config("anvil", ("--hardfork", "cancun"), "cancun", "eip1559"),
    "anvil-shanghai": Config("anvil", ("--hardfork", "shanghai"), "shanghai", "eip1559"),
    "anvil-london": Config("anvil", ("--hardfork", "london"), "london", "eip1559"),
    "anvil-berlin": Config("anvil", ("--hardfork", "berlin"), "berlin", "legacy"),
    "hardhat": Config("hardhat", (), "cancun", "eip1559"),  # hardhat-local/hardhat.config.js: cancun
}


def sent_types(rpc: JsonRpc, first: int) -> set[str]:
    """The types of every transaction in blocks `first`..head (anvil and Hardhat mine only ours)."""
    head = int(rpc.call("eth_blockNumber"), 16)
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in range(max(first, 0), head + 1)])
    return {tx["type"] for block in blocks for tx in block["transactions"]}


@pytest.fixture(params=list(CONFIGS))
def configured(
    request: pytest.FixtureRequest, cast: Cast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Config, Certified, float]]:
    config = CONFIGS[request.param]
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.delenv("LEDGER_FEE_MODEL", raising=False)  # read from the node
    build = compile_contracts(evm_version=config.target)  # type: ignore[arg-type]  (cached after the first run)
    started = time.monotonic()
    with LocalNode(kind=config.node, block_time=None, extra_args=config.args) as node:  # type: ignore[arg-type]
        # deploy (the node is probed for the build's opcodes first) → register → issue → transfer, then
        # retire → certify for every scenario, each certificate anchored
        yield config, open_certified(tmp_path, build, cast, node), started


@pytest.mark.slow
def test_the_smoke_scenario_runs_on_every_node_configuration(
    configured: tuple[Config, Certified, float], tmp_path: Path
) -> None:
    config, c, started = configured
    client, deployment = c.world.client, c.world.registry.deployment
    rpc = client.rpc
    assert deployment.evm_version == config.target
    present = available_features(rpc)
    assert present is not None and required_features(c.world.registry.build) <= present
    # every client picked the chain's own transaction type: the deploy, the writes and the anchors
    assert client.fee_model() == config.fee_model and c.service.client.fee_model() == config.fee_model
    want = "0x0" if config.fee_model == "legacy" else "0x2"
    assert sent_types(rpc, deployment.block_number - 1) == {want}
    anchored_size, _ = client.latest_anchor()
    assert anchored_size >= len(DEMO)

    # verify: every certificate against the node itself
    evidence = ChainEvidence(
        rpc, chain_id=deployment.chain_id, registry=deployment.address, revocations=deployment.revocations
    )
    for scenario, cert_id in c.ids.items():
        verdict = verify_document(c.public(cert_id), evidence)
        assert verdict.status == "valid", (config, scenario, verdict.as_json())

    # audit: the mirror, the log, the anchors and the API agree with the chain
    chain = read_chain(client, deployment.block_number)
    with c.service.engine.connect() as conn:
        report = reconcile(chain, conn, c.service.context.log, in_process_api(create_app(c.service.context)))
    assert report.clean, report.as_json()["differences"]
    assert report.checked["certificates"] == len(DEMO) and report.checked["anchors"] >= 1

    # the bulk sender: a few hundred operations, each applied once; a second run sends nothing
    holder, buyer = c.world.cast.holder, c.world.cast.buyer
    client.transfer(holder.address, buyer.address, c.world.batch_id, 5_000, sender=holder)
    retired_before = client.supply(c.world.batch_id).retired
    ops = operations(f"smoke-{config.target}-{config.node}", BULK, c.world.batch_id)
    report_bulk = BulkSender(client).run(ops)
    assert (report_bulk.applied, report_bulk.failed, report_bulk.unconfirmed) == (BULK, 0, 0)
    again = BulkSender(client).run(ops)
    assert again.already_applied == BULK and again.applied == 0
    assert client.supply(c.world.batch_id).retired == retired_before + BULK // 2
    assert sent_types(rpc, deployment.block_number - 1) == {want}

    # a backfill from the deployment block mirrors them: each retirement once, and the chain's views
    indexer = new_indexer(c.world, f"sqlite:///{tmp_path / 'backfill.sqlite'}")
    indexer.sync_once()
    with indexer.engine.connect() as conn:
        mirrored = Counter(conn.execute(select(Retirement.op_id)).scalars())
    bulk_retirements = {hex(op.op_id) for op in ops if op.fn == "retire"}
    assert all(mirrored[i] == 1 for i in bulk_retirements), "a bulk retirement mirrored twice or never"
    assert len(mirrored) == len(bulk_retirements) + len(DEMO)
    check_against_chain(indexer.engine, client)
    assert time.monotonic() - started < BUDGET, f"{config} took {time.monotonic() - started:.0f} s"
