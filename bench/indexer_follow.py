"""Indexer follow mode: lag behind the head (in blocks) while the chain takes ~100 transactions
a second, on anvil with 1 s blocks.

    .venv/bin/python bench/indexer_follow.py [--seconds 30] [--rate 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_chain

from chain.sender import BulkSender
from indexer import store
from indexer.db import create_schema, make_engine
from indexer.sync import Indexer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rate", type=int, default=100)
    args = parser.parse_args()
    with bench_chain() as chain:
        registry, client = chain.registry, chain.registry.client
        engine = make_engine(f"sqlite:///{chain.tmp}/follow.sqlite")
        create_schema(engine)
        indexer = Indexer(
            client.rpc.__class__(client.rpc.url),
            engine,
            client.abi,
            chain_id=client.chain_id,
            address=client.address,
            start_block=registry.deployment.block_number,
        )
        indexer.sync_once()
        stop = threading.Event()
        follower = threading.Thread(target=indexer.follow, args=(stop,), kwargs={"poll": 0.1}, daemon=True)
        follower.start()
        sent = 0

        def load() -> None:
            nonlocal sent
            second = 0
            sender = BulkSender(client)
            while not stop.is_set() and second < args.seconds:
                started = time.monotonic()
                ops = chain.ops(f"follow-{second}", args.rate)
                sender.run(ops)
                sent += len(ops)
                second += 1
                time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

        loader = threading.Thread(target=load, daemon=True)
        load_started = time.monotonic()
        loader.start()
        lags = []
        while loader.is_alive():
            head = int(client.rpc.call("eth_blockNumber"), 16)
            at = store.cursor(engine, client.chain_id, client.address.lower())
            lags.append(head - (at[0] if at else 0))
            time.sleep(0.2)
        elapsed = time.monotonic() - load_started
        stop.set()
        follower.join()
    print(f"load: {sent:,} transactions in {elapsed:.1f} s ({sent / elapsed:,.0f}/s)")
    print(f"lag behind the head, blocks: median {statistics.median(lags)}, max {max(lags)} ({len(lags)} samples)")


if __name__ == "__main__":
    main()
