"""Sender throughput: 10,000 mixed issue / transfer / retire operations against anvil, with the
bulk sender, and a naive sender (web3 `transact()` + `wait_for_transaction_receipt` per operation)
on a sample in the same run. Prints both rates and the ratio.

    .venv/bin/python bench/sender_throughput.py [--ops 10000] [--naive-ops 300] [--hardfork london] [--fee-model legacy]

--hardfork starts anvil at that rule set (berlin has no base fee: legacy transactions); --fee-model
sets LEDGER_FEE_MODEL (auto|eip1559|legacy) for the run, e.g. legacy transactions on a london chain.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_chain
from web3 import HTTPProvider, Web3

from chain.sender import BulkSender


def naive(url, client, ops):
    """web3 transact() + wait_for_transaction_receipt, one operation at a time."""
    w3 = Web3(HTTPProvider(url))
    # web3 fills in EIP-1559 fees unless given a gas price; a berlin node refuses those
    fees = {"gasPrice": w3.eth.gas_price} if client.fee_model() == "legacy" else {}
    # one transaction per block, mined at once: the naive sender's best case
    w3.provider.make_request("evm_setIntervalMining", [0])
    w3.provider.make_request("evm_setAutomine", [True])
    contract = w3.eth.contract(address=client.address, abi=client.abi.abi)
    started = time.perf_counter()
    for op in ops:
        tx = contract.functions[op.fn](*op.args).transact({"from": op.sender.address, **fees})
        w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.01)
    return len(ops) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--naive-ops", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hardfork", default=None, help="anvil's --hardfork (default: anvil's latest)")
    parser.add_argument(
        "--fee-model",
        choices=["auto", "eip1559", "legacy"],
        default=None,
        help="LEDGER_FEE_MODEL for this run (default: the environment's, else auto)",
    )
    args = parser.parse_args()
    if args.fee_model:
        os.environ["LEDGER_FEE_MODEL"] = args.fee_model
    node_args = ("--hardfork", args.hardfork) if args.hardfork else ()
    with bench_chain(node_args=node_args) as chain:
        client, node = chain.registry.client, chain.node
        print(f"anvil {' '.join(node_args) or '(default hardfork)'}; fee model: {client.fee_model()}")
        # the naive sender first, on the same fresh state, then interval mining back for the bulk runs
        sample = chain.ops("bench-naive", args.naive_ops)
        naive_rate = naive(node.url, client, sample)
        client.rpc.call("evm_setAutomine", False)
        client.rpc.call("evm_setIntervalMining", 1)
        rates = []
        for r in range(args.repeat):
            ops = chain.ops(f"bench-bulk-{r}", args.ops)
            report = BulkSender(client).run(ops)
            assert report.applied == args.ops, (
                report.applied,
                report.failed,
                [x.error for x in report.results if x.error][:3],
            )
            rates.append(args.ops / report.elapsed)
            sent = client.rpc.call("eth_getTransactionByHash", report.results[-1].tx_hash)
            print(
                f"bulk run {r + 1}: {args.ops} ops in {report.elapsed:.2f} s = {rates[-1]:,.0f} ops/s "
                f"(transaction type {int(sent['type'], 16)})"
            )
    bulk = statistics.median(rates)
    print(f"bulk sender (median of {args.repeat}): {bulk:,.0f} ops/s")
    print(f"naive sender ({args.naive_ops} ops): {naive_rate:,.1f} ops/s")
    print(f"ratio: {bulk / naive_rate:,.1f}x")


if __name__ == "__main__":
    main()
