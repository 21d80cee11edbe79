"""Indexer per-event cost at 10,000 and at 1,000,000 events: the rate of a backfill of the first
~10,000 events of a chain, and of the whole chain of ~1,000,000 events, into fresh SQLite files;
and, within the whole backfill, the rate over its first and its last tenth of events (the same
process and writer, a mirror of ~0 vs ~900,000 events).

The chain is the benchmarks' mix sent a hundred operations per transaction (bench/relay.py):
one operation per transaction, anvil needs more memory than this machine has.

    .venv/bin/python bench/indexer_scale.py [--events 1000000] [--small 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_chain, stop_mining
from indexer_backfill import cpu_seconds
from relay import Relay

from indexer.db import create_schema, make_engine
from indexer.sync import Indexer


def backfill(chain, url: str, until: int | None) -> tuple[int, float, list[tuple[float, int]]]:  # type: ignore[no-untyped-def]
    """(events, seconds, [(seconds since the start, events stored so far) after each range])."""
    client = chain.registry.client
    engine = make_engine(url)
    create_schema(engine)
    indexer = Indexer(
        client.rpc,
        engine,
        client.abi,
        chain_id=client.chain_id,
        address=client.address,
        start_block=chain.registry.deployment.block_number,
    )
    progress: list[tuple[float, int]] = []
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    stored = indexer.sync_once(
        lambda _block, _target, total: progress.append((time.perf_counter() - started, total)), until=until
    )
    seconds = time.perf_counter() - started
    cpu_after = cpu_seconds()
    print(
        f"  {stored:,} events in {seconds:.1f} s: cpu per event: indexer {(cpu_after[0] - cpu_before[0]) / stored * 1e6:.0f} µs, "
        f"writer process {(cpu_after[1] - cpu_before[1]) / stored * 1e6:.0f} µs; load average {os.getloadavg()[0]:.1f}"
    )
    engine.dispose()
    return stored, seconds, progress


def tenth_rates(progress: list[tuple[float, int]]) -> tuple[float, float]:
    """Events/s over the first and over the last tenth of a backfill's events (by range ends,
    applied: the writer runs a range or two behind, and both ends are measured alike)."""
    total = progress[-1][1]
    first = next(p for p in progress if p[1] >= total / 10)
    start = max((p for p in progress if p[1] <= total * 9 / 10), key=lambda p: p[1])
    return first[1] / first[0], (total - start[1]) / (progress[-1][0] - start[0])


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
        relay, events, sent = Relay(chain), 0, 0
        while events < args.events:
            n = min(50_000, max(1_000, (args.events - events) // 2))  # about two events an operation
            events += relay.send(relay.calls(f"scale-{sent}", n))
            sent += n
        print(
            f"generated the chain in {time.perf_counter() - started:.0f} s: {sent:,} operations, {events:,} registry events"
        )
        # then 64 empty blocks: neither backfill ends inside the unfinalised window, where each change
        # also journals the row's previous value (a cost of the last 64 blocks, not of the mirror's size)
        stop_mining(chain, then_mine=64)
        until = block_after(chain, args.small)
        head = int(chain.registry.client.rpc.call("eth_blockNumber"), 16)  # the same chain for every run
        smalls = [backfill(chain, f"sqlite:///{chain.tmp}/small-{run}.sqlite", until) for run in range(args.runs)]
        wholes = [backfill(chain, f"sqlite:///{chain.tmp}/whole-{run}.sqlite", head) for run in range(args.runs)]
        small, small_s = smalls[0][0], statistics.median(s for _, s, _ in smalls)
        whole, whole_s = wholes[0][0], statistics.median(s for _, s, _ in wholes)
        tenths = [tenth_rates(progress) for _, _, progress in wholes]
    if args.runs > 1:
        print(f"medians of {args.runs} runs each:")
    print(
        f"first {small:,} events: {small_s:.2f} s = {small / small_s:,.0f} events/s ({small_s / small * 1e6:.0f} µs/event)"
    )
    print(
        f"all {whole:,} events: {whole_s:.1f} s = {whole / whole_s:,.0f} events/s ({whole_s / whole * 1e6:.0f} µs/event)"
    )
    print(f"per-event cost at {whole:,} / at {small:,}: {(whole_s / whole) / (small_s / small):.2f}")
    first_tenth, last_tenth = statistics.median(t[0] for t in tenths), statistics.median(t[1] for t in tenths)
    print(
        f"within the backfill of {whole:,}: first tenth {first_tenth:,.0f} events/s, last tenth {last_tenth:,.0f} events/s; "
        f"per-event cost last / first: {first_tenth / last_tenth:.2f}"
    )


if __name__ == "__main__":
    main()
