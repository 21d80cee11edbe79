"""accounts.ingest.ingest called directly on PostgreSQL (no HTTP): the domain's share of the issue-18
ingest target (≥ 20,000 records/s in batches of 1,000 with deduplication on). bench/accounts_ingest.py
measures the same through the API.

    .venv/bin/python bench/accounts_ingest_domain.py [--postgres URL] [--batches 30] [--threads 1]
        [--accounts 5000] [--duplicates 0.05]

A database is created for the run and dropped at the end. Setup, not measured: one app with a key,
--accounts accounts with consent for transit, inserted by SQL. Each batch holds 1,000 metro trips
of random accounts spread over the past 300 days (so the daily cap rarely bites); a --duplicates
share repeat an earlier trip of the run under a new record id (answered "duplicate": the dedup path).
--threads run batches at once, each on its own connection. Every outcome is checked (no refusal)
and the ledger must then hold an entry per credited record and one per batch (the source's total). Besides wall time it prints CPU time
per batch of this process and (for a server on this machine, read from /proc: bench/cpu.py) of the
PostgreSQL server's processes: steadier than wall time when other work shares the cores."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select

from accounts.ingest import ingest
from accounts.ledger_models import ENTRIES
from accounts.models import ACCOUNTS, CONSENTS
from accounts.people import new_account_id
from accounts.sources import add_source, authenticate, create_key
from bench.cpu import Meter, postgres_processes
from tests.pgdb import scratch_engine

DEFAULT_PG = os.environ.get("TEST_DATABASE_URL", "postgresql://ledger:ledger@127.0.0.1:5432/ledger_test")
DAY = 86_400


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", default=DEFAULT_PG)
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--duplicates", type=float, default=0.05)
    args = ap.parse_args()
    with scratch_engine(args.postgres, "bench_ingest_domain") as engine:
        now = int(time.time())
        add_source(engine, "bench-app", "Bench app", "app", now)
        who = authenticate(engine, create_key(engine, "bench-app", ["records:write"], now).bearer, now)
        accounts = [new_account_id() for _ in range(args.accounts)]
        with engine.begin() as conn:
            conn.execute(insert(ACCOUNTS), [{"id": a, "created_by": "bench-app", "created_at": now} for a in accounts])
            conn.execute(
                insert(CONSENTS),
                [
                    {"account_id": a, "source_id": "bench-app", "data_kind": "transit", "granted_at": now}
                    for a in accounts
                ],
            )
        rng = random.Random(18)
        sent: list[dict[str, Any]] = []
        batches = []
        for b in range(args.batches):
            batch = []
            for i in range(1000):
                if sent and rng.random() < args.duplicates:
                    batch.append({**rng.choice(sent), "id": f"dup-{b}-{i}"})
                    continue
                trip = {
                    "id": f"t-{b}-{i}",
                    "account": rng.choice(accounts),
                    "type": "metro",
                    "occurred_at": now - rng.randrange(300 * DAY),
                    "quantity": f"{rng.randrange(10, 300) / 10}",
                    "identity": {"entry_station": f"S{rng.randrange(300)}", "exit_station": f"S{rng.randrange(300)}"},
                }
                sent.append(trip)
                batch.append(trip)
            batches.append(batch)
        times: list[float] = []
        outcomes: list[Any] = []
        lock = threading.Lock()
        queue = list(reversed(batches))

        def worker() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    batch = queue.pop()
                t = time.perf_counter()
                got = ingest(engine, who, batch, now)
                with lock:
                    times.append(time.perf_counter() - t)
                    outcomes.extend(got)

        ingest(engine, who, [], now)  # open the pool's first connection before measuring
        pg = postgres_processes(engine)
        meter = Meter({"PostgreSQL": pg} if pg is not None else {})
        meter.start()
        start = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - start
        meter.stop()
        refused = [o for o in outcomes if o.status == "refused"]
        credited = sum(o.status == "credited" for o in outcomes)
        with engine.connect() as conn:
            entries = conn.execute(select(func.count()).select_from(ENTRIES)).scalar_one()
            txns = conn.execute(select(func.count(func.distinct(ENTRIES.c.txn)))).scalar_one()
        # a batch's credits are one transaction: a posting per credit and the source's total
        assert entries == credited + txns and txns <= len(times), (entries, credited, txns)
        n = len(outcomes)
        print(
            f"{n} records in {wall:.2f} s = {n / wall:,.0f} records/s ({args.threads} thread(s)); "
            f"credited {credited}, duplicate {sum(o.status == 'duplicate' for o in outcomes)}, "
            f"refused {len(refused)} {sorted({o.code for o in refused})}; "
            f"batch p50 {statistics.median(times) * 1000:.1f} ms"
        )
        # CPU time per batch: steadier than wall time on a shared machine (other work's load)
        batches_run = len(times)
        spent = {"this process": meter.spent["client"]} | {k: v for k, v in meter.spent.items() if k != "client"}
        parts = ", ".join(f"{k} {v / batches_run * 1000:.1f} ms" for k, v in spent.items())
        print(f"CPU per batch: {parts}; machine busy {meter.busy:.0%}")


if __name__ == "__main__":
    main()
