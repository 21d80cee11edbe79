"""The durable node's front (chain/front.py) against anvil asked directly: what the extra hop
costs per JSON-RPC call, and what the archive costs an eth_getLogs over blocks anvil forgot.

    .venv/bin/python bench/node_front.py [--calls 2000]

Prints median and p99 per call (milliseconds) for: eth_blockNumber and eth_call (passed through
the front as bytes), eth_getLogs over recent blocks (passed through), and eth_getLogs over the
whole chain (the archive's part answered by the front); direct to anvil is the baseline."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.node import LocalNode
from chain.rpc import JsonRpc

# a contract whose every call emits one log (PUSH1 0 PUSH1 0 LOG0 STOP)
EMITTER = "0x6006600c60003960066000f3" + "60006000a000"


def timed(rpc: JsonRpc, method: str, params: list[object], calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        rpc.call(method, *params)
        out.append((time.perf_counter() - start) * 1000)
    return out


def line(name: str, front: list[float], direct: list[float]) -> None:
    f, d = statistics.median(front), statistics.median(direct)
    p99 = sorted(front)[int(len(front) * 0.99) - 1]
    print(f"{name:34} front {f:6.3f} ms (p99 {p99:6.3f})  direct {d:6.3f} ms  ratio {f / d:4.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--logs", type=int, default=300, help="blocks with one log each, most of them archived")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        node = LocalNode(state_file=Path(tmp) / "anvil" / "state.json", block_window=16)
        with node:
            front, direct = JsonRpc(node.url), JsonRpc(node.backend_url)
            sender = front.call("eth_accounts")[0]
            tx = front.call("eth_sendTransaction", {"from": sender, "data": EMITTER})
            while not (receipt := front.call("eth_getTransactionReceipt", tx)):
                time.sleep(0.01)
            address = receipt["contractAddress"]
            for _ in range(args.logs):  # one at a time, so that most blocks are archived
                tx = front.call("eth_sendTransaction", {"from": sender, "to": address})
                while not front.call("eth_getTransactionReceipt", tx):
                    time.sleep(0.005)
            assert node.keeper is not None and node.front is not None
            node.keeper.snapshot()
            head = int(front.call("eth_blockNumber"), 16)
            print(
                f"{head} blocks, {node.front.archive.head()} archived; anvil keeps the last 16; {args.calls} calls each"
            )
            call = [{"to": address, "data": "0x"}, "latest"]
            recent = [{"fromBlock": hex(head - 8), "toBlock": "latest", "address": address}]
            line(
                "eth_blockNumber",
                timed(front, "eth_blockNumber", [], args.calls),
                timed(direct, "eth_blockNumber", [], args.calls),
            )
            line("eth_call", timed(front, "eth_call", call, args.calls), timed(direct, "eth_call", call, args.calls))
            line(
                "eth_getLogs, last 8 blocks",
                timed(front, "eth_getLogs", recent, args.calls),
                timed(direct, "eth_getLogs", recent, args.calls),
            )
            whole = [{"fromBlock": "0x0", "toBlock": "latest", "address": address}]
            n = max(20, args.calls // 20)
            got = len(front.call("eth_getLogs", *whole))
            anvil_has = len(direct.call("eth_getLogs", *whole))
            served = timed(front, "eth_getLogs", whole, n)
            print(
                f"{'eth_getLogs, whole chain':34} front {statistics.median(served):6.3f} ms for {got} logs; "
                f"anvil alone returns {anvil_has} (it forgot the rest): no like-for-like baseline"
            )


if __name__ == "__main__":
    main()
