"""Indexer per-event cost at 10,000 and at 1,000,000 events: the rate of a backfill of the first
~10,000 events of a chain, and of the whole chain of ~1,000,000 events, into fresh SQLite files.

    .venv/bin/python bench/indexer_scale.py [--events 1000000] [--small 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_chain  # noqa: E402  (also puts the project on sys.path)
from indexer_backfill import cpu_seconds, generate  # noqa: E402

from indexer.db import create_schema, make_engine  # noqa: E402
from indexer.sync import Indexer  # noqa: E402


def backfill(chain, url: str, until: int | None) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    client = chain.registry.client
    engine = make_engine(url)
    create_schema(engine)
    indexer = Indexer(client.rpc, engine, client.abi, chain_id=client.chain_id, address=client.address,
                      start_block=chain.registry.deployment.block_number)
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    stored = indexer.sync_once(until=until)
    seconds = time.perf_counter() - started
    cpu_after = cpu_seconds()
    print(f"  {stored:,} events: cpu per event: indexer {(cpu_after[0] - cpu_before[0]) / stored * 1e6:.0f} µs, "
          f"writer process {(cpu_after[1] - cpu_before[1]) / stored * 1e6:.0f} µs; load average {os.getloadavg()[0]:.1f}")
    return stored, seconds


def block_after(chain, events: int) -> int:  # type: ignore[no-untyped-def]
    """The first block by which at least `events` registry events exist."""
    rpc, address = chain.registry.client.rpc, chain.registry.client.address
    block, seen = chain.registry.deployment.block_number, 0
    while seen < events:
        seen += len(rpc.call("eth_getLogs", {"fromBlock": hex(block), "toBlock": hex(block), "address": address}))
        block += 1
    return block - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1, help="backfill each size this many times; medians count")
    args = parser.parse_args()
    # --prune-history 64: anvil keeps only the last 64 states (logs and receipts stay); without it a chain of a
    # million events takes most of this machine's memory
    with bench_chain(node_args=("--prune-history", "64")) as chain:
        started = time.perf_counter()
        generate(chain, args.events)
        print(f"generated the chain in {time.perf_counter() - started:.0f} s")
        until = block_after(chain, args.small)
        head = int(chain.registry.client.rpc.call("eth_blockNumber"), 16)  # the same chain for every run
        smalls = [backfill(chain, f"sqlite:///{chain.tmp}/small-{run}.sqlite", until) for run in range(args.runs)]
        wholes = [backfill(chain, f"sqlite:///{chain.tmp}/whole-{run}.sqlite", head) for run in range(args.runs)]
        small, small_s = smalls[0][0], statistics.median(s for _, s in smalls)
        whole, whole_s = wholes[0][0], statistics.median(s for _, s in wholes)
    if args.runs > 1:
        print(f"medians of {args.runs} runs each:")
    print(f"first {small:,} events: {small_s:.1f} s = {small / small_s:,.0f} events/s ({small_s / small * 1e6:.0f} µs/event)")
    print(f"all {whole:,} events: {whole_s:.1f} s = {whole / whole_s:,.0f} events/s ({whole_s / whole * 1e6:.0f} µs/event)")
    print(f"per-event cost at {whole:,} / at {small:,}: {(whole_s / whole) / (small_s / small):.2f}")


if __name__ == "__main__":
    main()
