"""`ledger audit` on a registry of about 100,000 events: reading the chain (eth_getLogs + batched
eth_call views), reconciling the mirror, certificates, log and API; against a naive audit that
asks the node one view per balance and batch, in the same run.

    .venv/bin/python bench/audit.py --events 100000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_chain
from fastapi.testclient import TestClient
from indexer_backfill import generate

from api.app import create_app
from audit.chain_state import read_chain
from audit.reconcile import reconcile
from certificates.service import CertificateService, retire_and_certify
from certificates.settings import ServiceSettings
from chain.opids import random_op_id
from chain.types import Scenario
from indexer.db import make_engine


def in_process_api(context):  # type: ignore[no-untyped-def]
    client = TestClient(create_app(context), raise_server_exceptions=False)
    return lambda path: (lambda reply: (reply.status_code, reply.json()))(client.get(path))


def naive_views(client, chain) -> float:  # type: ignore[no-untyped-def]
    """One eth_call per view, as a script without JSON-RPC batching would."""
    started = time.perf_counter()
    for batch in chain.supply_views:
        client.supply(batch)
    for holder, batch in chain.balances:
        client.balance_of(holder, batch)
        client.locked_of(holder, batch)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--certificates", type=int, default=20)
    args = parser.parse_args()
    with bench_chain() as chain:
        import os

        os.environ["LEDGER_DATA_KEY_FILE"] = str(chain.tmp / "data.key")
        client = chain.registry.client
        started = time.perf_counter()
        generate(chain, args.events)
        engine = make_engine(f"sqlite:///{chain.tmp / 'audit.sqlite'}")
        service = CertificateService.open(
            engine, chain.registry.deployment, client, ServiceSettings(anchor_every=10**9)
        )
        holder = chain.holders[0]
        for i in range(args.certificates):
            retire_and_certify(
                service,
                lambda cm: client.retire(
                    random_op_id(), chain.batch, 5, Scenario.VOLUNTARY, cm, b"\0" * 32, sender=holder
                ),
                f"beneficiary {i}",
                scenario_key="Voluntary",
                fields={"message": "bench"},
                anchor=False,
            )
            if i % 5 == 4:
                service.anchor(force=True)
        service.catch_up(int(client.rpc.call("eth_blockNumber"), 16))
        print(f"generated and indexed the registry in {time.perf_counter() - started:.0f} s")
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            state = read_chain(client, chain.registry.deployment.block_number)
            t1 = time.perf_counter()
            with engine.connect() as conn:
                report = reconcile(state, conn, service.context.log, in_process_api(service.context))
            t2 = time.perf_counter()
            assert report.clean, report.as_json()["differences"][:5]
            runs.append((t2 - t0, t1 - t0, t2 - t1))
            print(
                f"audit: {state.events:,} events, {report.checked}: {t2 - t0:.1f} s "
                f"(chain {t1 - t0:.1f} s, reconcile {t2 - t1:.1f} s)"
            )
        runs.sort()
        median = runs[len(runs) // 2]
        views_batched = median[1]
        naive = naive_views(client, state) + 0.0
        print(f"median audit: {median[0]:.1f} s for {state.events:,} events (target ≤ 60 s)")
        print(
            f"naive views (one eth_call each): {naive:.1f} s for {len(state.balances) * 2 + len(state.supply_views):,} "
            f"calls; ours read logs and all views in {views_batched:.1f} s: ratio {naive / views_batched:.1f}x"
        )


if __name__ == "__main__":
    main()
