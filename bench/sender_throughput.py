"""Sender throughput: 10,000 mixed issue / transfer / retire operations against anvil, with the
bulk sender, and a naive sender (web3 `transact()` + `wait_for_transaction_receipt` per operation)
on a sample in the same run. Prints both rates and the ratio.

    .venv/bin/python bench/sender_throughput.py [--ops 10000] [--naive-ops 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from web3 import HTTPProvider, Web3  # noqa: E402

from chain.keys import dev_accounts  # noqa: E402
from chain.local import open_local_registry  # noqa: E402
from chain.node import LocalNode  # noqa: E402
from chain.opids import sequential_op_ids  # noqa: E402
from chain.sender import BulkSender, Operation  # noqa: E402
from chain.types import ParticipantKind, Scenario, short_id  # noqa: E402

HASH = b"\x42" * 32
HOLDERS = 12


def setup(client, owner, holders):
    """A registered project and a large batch held by each holder (not measured)."""
    admin = dev_accounts()[0]
    ops = iter(sequential_op_ids("bench-setup", 10_000))
    client.file_methodology(next(ops), "SCFM-001-V01", 0, 1, HASH)
    for account, kind in [(owner, ParticipantKind.PROJECT_OWNER)] + [(h, ParticipantKind.ENTERPRISE) for h in holders]:
        client.register_participant(next(ops), account.address, kind)
    client.register_project(
        next(ops), project_id="P-BENCH", methodology_id="SCFM-001-V01", owner=owner.address, county_code=511802,
        area_square_metres=10**7, crediting_start=1_577_836_800, crediting_end=2_208_988_800,
        documents_hash=HASH, parcels=[HASH],
    )
    client.review_project(next(ops), "P-BENCH", True, HASH)
    batch = client.issue(
        next(ops), project_id="P-BENCH", vintage=2024, monitoring_start=1_704_067_200,
        monitoring_end=1_735_689_600, quantity=10**12, reserve_bps=0, verification_report_hash=HASH,
    ).event("BatchIssued").args["batchId"]
    for h in holders:
        client.transfer(owner.address, h.address, batch, 10**9, sender=owner)
    return admin, batch


def mixed_ops(namespace, n, *, admin, owner, holders, batch):
    """10% issue (registrar), 50% transfer with reference, 40% retire, spread over the holders."""
    ids = sequential_op_ids(namespace, n)
    request = (short_id("P-BENCH"), 2024, 1_704_067_200, 1_735_689_600, 1000, 500, HASH, HASH)
    ops = []
    for i, op_id in enumerate(ids):
        holder = holders[i % len(holders)]
        kind = i % 10
        if kind == 0:
            ops.append(Operation(op_id, "issue", (op_id, request), admin))
        elif kind <= 5:
            to = holders[(i + 1) % len(holders)]
            ops.append(Operation(op_id, "transferWithReference", (op_id, holder.address, to.address, batch, 3, HASH), holder))
        else:
            ops.append(Operation(op_id, "retire", (op_id, batch, 1, int(Scenario.PERSONAL), HASH, HASH), holder))
    return ops


def naive(url, client, ops):
    """web3 transact() + wait_for_transaction_receipt, one operation at a time."""
    w3 = Web3(HTTPProvider(url))
    # one transaction per block, mined at once: the naive sender's best case
    w3.provider.make_request("evm_setIntervalMining", [0])
    w3.provider.make_request("evm_setAutomine", [True])
    contract = w3.eth.contract(address=client.address, abi=client.abi.abi)
    started = time.perf_counter()
    for op in ops:
        tx = contract.functions[op.fn](*op.args).transact({"from": op.sender.address})
        w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.01)
    return len(ops) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--naive-ops", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    accounts = dev_accounts()
    owner, holders = accounts[1], list(accounts[2 : 2 + HOLDERS])
    with tempfile.TemporaryDirectory() as tmp, LocalNode(block_time=1) as node:
        registry = open_local_registry(node.url, deployments_dir=Path(tmp))
        client = registry.client
        admin, batch = setup(client, owner, holders)
        # the naive sender first, on the same fresh state, then interval mining back for the bulk runs
        sample = mixed_ops("bench-naive", args.naive_ops, admin=admin, owner=owner, holders=holders, batch=batch)
        naive_rate = naive(node.url, client, sample)
        client.rpc.call("evm_setAutomine", False)
        client.rpc.call("evm_setIntervalMining", 1)
        rates = []
        for r in range(args.repeat):
            ops = mixed_ops(f"bench-bulk-{r}", args.ops, admin=admin, owner=owner, holders=holders, batch=batch)
            report = BulkSender(client).run(ops)
            assert report.applied == args.ops, (report.applied, report.failed, [x.error for x in report.results if x.error][:3])
            rates.append(args.ops / report.elapsed)
            print(f"bulk run {r + 1}: {args.ops} ops in {report.elapsed:.2f} s = {rates[-1]:,.0f} ops/s")
    bulk = statistics.median(rates)
    print(f"bulk sender (median of {args.repeat}): {bulk:,.0f} ops/s")
    print(f"naive sender ({args.naive_ops} ops): {naive_rate:,.1f} ops/s")
    print(f"ratio: {bulk / naive_rate:,.1f}x")


if __name__ == "__main__":
    main()
