"""Indexer backfill: registry events from anvil into SQLite (and PostgreSQL with --postgres URL),
end to end (eth_getLogs, decoding, projections, lots, storage), against a naive indexer (web3
get_logs with decoding, one SQLModel session.add + commit per event) in the same run.

    .venv/bin/python bench/indexer_backfill.py --events 200000 [--per-tx 100] [--postgres postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BenchChain, bench_chain, stop_mining
from sqlmodel import Session
from web3 import HTTPProvider, Web3

from chain.sender import BulkSender
from indexer.db import create_schema, make_engine
from indexer.models import RawEvent
from indexer.sync import Indexer

EVENTS_PER_OP = 2  # TransferSingle + the registry's own event (issue: 3)


def generate(chain: BenchChain, events: int, per_tx: int = 1) -> None:
    """The benchmarks' mix, one operation per transaction (the bulk sender), or `per_tx` per
    transaction through the benchmark relay (bench/relay.py), as a platform batching its
    custodial operations would send them."""
    if per_tx > 1:
        from relay import Relay

        relay, emitted, sent = Relay(chain), 0, 0
        while emitted < events:
            n = min(50_000, max(1_000, (events - emitted) // EVENTS_PER_OP))
            emitted += relay.send(relay.calls(f"backfill-relay-{sent}", n), per_tx=per_tx)
            sent += n
        return
    client = chain.registry.client
    ops_needed = events // EVENTS_PER_OP
    done = 0
    while done < ops_needed:
        n = min(20_000, ops_needed - done)
        report = BulkSender(client).run(chain.ops(f"backfill-{done}", n))
        assert report.applied == n, (report.applied, report.failed)
        done += n


def cpu_seconds() -> tuple[float, float]:
    """CPU time of this process and of its ended children (the indexer's writer process)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def ours(client, url: str, start_block: int) -> tuple[int, float]:
    engine = make_engine(url)
    create_schema(engine)
    indexer = Indexer(
        client.rpc,
        engine,
        client.abi,
        chain_id=client.chain_id,
        address=client.address,
        start_block=start_block,
        max_range=2_000,
    )
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    stored = indexer.sync_once()
    seconds = time.perf_counter() - started
    cpu_after = cpu_seconds()
    print(
        f"  cpu: indexer {cpu_after[0] - cpu_before[0]:.1f} s, writer process {cpu_after[1] - cpu_before[1]:.1f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    return stored, seconds


def naive(url_rpc: str, client, db_url: str, start_block: int, limit: int) -> tuple[int, float]:
    w3 = Web3(HTTPProvider(url_rpc))
    contract = w3.eth.contract(address=client.address, abi=client.abi.abi)
    engine = make_engine(db_url)
    create_schema(engine)
    head = w3.eth.block_number
    stored, started = 0, time.perf_counter()
    with Session(engine) as session:
        for first in range(start_block, head + 1):
            for event_type in ("TransferSingle", "CreditsTransferred", "CreditsRetired", "BatchIssued"):
                for log in getattr(contract.events, event_type)().get_logs(from_block=first, to_block=first):
                    session.add(
                        RawEvent(
                            chain_id=client.chain_id,
                            block_number=log["blockNumber"],
                            log_index=log["logIndex"],
                            block_hash=log["blockHash"].to_0x_hex(),
                            tx_hash=log["transactionHash"].to_0x_hex(),
                            tx_index=log["transactionIndex"],
                            address=log["address"].lower(),
                            name=log["event"],
                            topics="",
                            data="",
                            args=json.dumps(dict(log["args"]), default=str),
                        )
                    )
                    session.commit()
                    stored += 1
                    if stored >= limit:
                        return stored, time.perf_counter() - started
    return stored, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=5_000)
    parser.add_argument("--postgres", default=None, help="also backfill into this PostgreSQL database (emptied first)")
    parser.add_argument(
        "--runs", type=int, default=1, help="backfill into SQLite this many times (fresh files); the median counts"
    )
    parser.add_argument(
        "--per-tx", type=int, default=1, help="registry operations per transaction (>1: through bench/relay.py)"
    )
    args = parser.parse_args()
    with bench_chain() as chain:
        registry, client, node, tmp = chain.registry, chain.registry.client, chain.node, chain.tmp
        t = time.perf_counter()
        generate(chain, args.events, args.per_tx)
        stop_mining(chain)
        print(f"generated the chain in {time.perf_counter() - t:.0f} s ({args.per_tx} operation(s) per transaction)")
        start = registry.deployment.block_number
        rates = []
        for run in range(args.runs):
            stored, seconds = ours(client, f"sqlite:///{tmp}/ours-{run}.sqlite", start)
            rates.append(stored / seconds)
            print(f"ours, SQLite: {stored:,} events in {seconds:.1f} s = {stored / seconds:,.0f} events/s")
        rate = statistics.median(rates)
        if args.runs > 1:
            print(f"ours, SQLite, median of {args.runs}: {rate:,.0f} events/s")
        n, naive_seconds = naive(node.url, client, f"sqlite:///{tmp}/naive.sqlite", start, args.naive_events)
        print(f"naive, SQLite: {n:,} events in {naive_seconds:.1f} s = {n / naive_seconds:,.0f} events/s")
        print(f"ratio: {rate / (n / naive_seconds):,.1f}x")
        if args.postgres:
            from indexer.db import drop_schema

            engine = make_engine(args.postgres)
            drop_schema(engine)
            pg_stored, pg_seconds = ours(client, args.postgres, start)
            print(
                f"ours, PostgreSQL: {pg_stored:,} events in {pg_seconds:.1f} s = {pg_stored / pg_seconds:,.0f} events/s"
            )


if __name__ == "__main__":
    main()
