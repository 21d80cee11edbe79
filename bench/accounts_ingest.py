"""Behaviour-record ingest through the HTTP API on PostgreSQL (issue 18: ≥ 20,000 records/s in batches
of 1,000 with deduplication on, and ≥ 20× one request per record, measured in the same run).

    .venv/bin/python bench/accounts_ingest.py [--postgres URL] [--workers 2] [--clients 2]
        [--records 100000] [--single 3000] [--accounts 20000] [--duplicates 0.05] [--rounds 3]

The server is the production entry point, `uvicorn --factory api.asgi:app --workers N`, in a child
process, against a database created for the run (dropped at the end). asgi.app() needs a node and a
deployment record to start (it serves the registry's other routes too): an anvil node is started and
a placeholder deployment record written; the accounts routes read neither.

Setup, not measured: one source (an app) with a key, --accounts accounts each with the person's
consent for transit data, opened by SQL. Each round sends fresh metro trips spread over the past
300 days (so the 2,000-points daily cap of the methodology rarely bites) of which a --duplicates
share repeat an earlier trip of the run under a new record id: the behaviour's identity is the
same, so the API answers "duplicate" (the Hubei rule, the dedup path under load). Batched mode:
--clients threads, each POSTing batches of 1,000 on its own keep-alive connection. Single mode: the
same threads, one record per request. Every answer is checked: 200, one outcome per record, no
refusal; the ledger then holds exactly a posting per credited record and one per batch (the source's
total), and its audit is clean. Medians of --rounds rounds.

Each batched round also prints the CPU a batch cost every process serving it (the uvicorn workers,
the PostgreSQL server's processes when it runs on this machine, this client; bench/cpu.py) and how
busy the machine was; the summary turns the medians into a ceiling: the rate this machine's cores
would give if they were busy all the time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson
from sqlalchemy import Engine, func, insert, select

from accounts import ledger, people, sources
from accounts.ledger_models import ENTRIES
from accounts.models import ACCOUNTS, CONSENTS
from bench.cpu import CORES, Meter, children, postgres_processes
from chain.deploy import Deployment, record_path
from chain.node import LocalNode
from tests.api.server import free_port, wait_until_up
from tests.pgdb import scratch_engine

DEFAULT_PG = os.environ.get("TEST_DATABASE_URL", "postgresql://ledger:ledger@127.0.0.1:5432/ledger_test")
TARGET_RATE, TARGET_RATIO = 20_000, 20
BATCH = 1_000
DAY = 86_400
STATIONS = [f"站{i:03d}" for i in range(300)]  # 300 × 300 station pairs × 30 ten-minute buckets a day


@contextmanager
def database(url: str) -> Iterator[tuple[Engine, str]]:
    with scratch_engine(url, "bench_ingest") as engine:
        yield engine, engine.url.render_as_string(hide_password=False)


def populate(engine: Engine, n: int, now: int) -> tuple[str, list[str]]:
    """A source with a records:write key and n accounts with transit consent (not measured)."""
    sources.add_source(engine, "bench-app", "Bench app", "app", now)
    key = sources.create_key(engine, "bench-app", ["records:write"], now)
    accounts = [people.new_account_id() for _ in range(n)]
    with engine.begin() as conn:
        conn.execute(insert(ACCOUNTS), [{"id": a, "created_by": "bench-app", "created_at": now} for a in accounts])
        conn.execute(
            insert(CONSENTS),
            [{"account_id": a, "source_id": "bench-app", "data_kind": "transit", "granted_at": now} for a in accounts],
        )
    return key.bearer, accounts


class Stream:
    """Fresh metro trips, with a share repeating an earlier trip's behaviour under a new id."""

    def __init__(self, accounts: list[str], duplicates: float, now: int, seed: int = 7) -> None:
        self.accounts, self.duplicates, self.now = accounts, duplicates, now
        self.rng = random.Random(seed)
        self.seen: list[dict[str, Any]] = []
        self.n = 0
        self.used: set[tuple[str, str, str, int]] = set()

    def next(self) -> dict[str, Any]:
        self.n += 1
        rid = f"r{self.n}"
        if self.seen and self.rng.random() < self.duplicates:
            return {**self.rng.choice(self.seen), "id": rid}  # the same trip, another record id
        while True:
            account = self.rng.choice(self.accounts)
            a, b = self.rng.sample(STATIONS, 2)
            # whole ten-minute buckets, 1-300 days ago: never in the future, never the same bucket twice
            at = self.now - self.rng.randrange(1, 300) * DAY - self.rng.randrange(0, 144) * 600
            if (account, a, b, at) not in self.used:
                self.used.add((account, a, b, at))
                break
        record = {
            "id": rid,
            "account": account,
            "type": "metro",
            "occurred_at": at,
            "quantity": "12.5",
            "identity": {"entry_station": a, "exit_station": b},
        }
        if len(self.seen) < 100_000:
            self.seen.append(record)
        return record

    def take(self, n: int) -> list[dict[str, Any]]:
        return [self.next() for _ in range(n)]


@contextmanager
def server(db_url: str, tmp: Path, node: LocalNode, workers: int) -> Iterator[tuple[str, int, int]]:
    zero = "0x" + "00" * 20
    placeholder = Deployment(31337, zero, zero, zero, 0, "0x" + "00" * 32, "", "", "", "", "", 0)
    deployments = tmp / "deployments"
    deployments.mkdir(exist_ok=True)
    record_path(deployments, 31337).write_text(placeholder.to_json())
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "LEDGER_RPC_URL": node.url,
        "LEDGER_DEPLOYMENTS_DIR": str(deployments),
        "LEDGER_VAR_DIR": str(tmp / "var"),
        "LEDGER_DATA_KEY_FILE": str(tmp / "data.key"),
        "LEDGER_CONFIG": str(tmp / "no-config.toml"),
        "LEDGER_ACCOUNTS_RATE_PER_SECOND": "1000000",  # the benchmark measures the path, not the limiter
        "LEDGER_ACCOUNTS_RATE_BURST": "1000000",
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    log = open(tmp / "uvicorn.log", "wb")  # noqa: SIM115  # closed in the finally below, after the child
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", timeout=120, proc=proc)
        yield "127.0.0.1", port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        said = (tmp / "uvicorn.log").read_text(errors="replace").strip()
        if said:
            print("server log (last lines):\n    " + "\n    ".join(said.splitlines()[-12:]))


def send(
    host: str, port: int, bearer: str, chunks: list[list[dict[str, Any]]], clients: int, meter: Meter | None = None
) -> tuple[float, dict[str, int]]:
    """POST every chunk (a request each) from `clients` threads; seconds taken and outcome counts
    (and the CPU the processes spent in `meter`, from the first request to the last answer)."""
    work = list(enumerate(chunks))
    lock = threading.Lock()
    counts = {"credited": 0, "duplicate": 0, "refused": 0, "resent": 0}
    failures: list[str] = []
    bodies = [json.dumps({"records": c}).encode() for c in chunks]  # encoded before the clock starts
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        mine = {"credited": 0, "duplicate": 0, "refused": 0, "resent": 0}
        while True:
            with lock:
                if not work:
                    break
                i, chunk = work.pop()
            for _ in range(20):  # a 409 or 503 says "send it again": the API's word that a resend posts nothing twice
                conn.request("POST", "/api/v1/accounts/records", body=bodies[i], headers=headers)
                r = conn.getresponse()
                raw = r.read()
                if r.status not in (409, 503):
                    break
                mine["resent"] += 1
            if r.status != 200:
                failures.append(f"{r.status}: {raw[:200]!r}")
                continue
            answer = orjson.loads(raw)  # the client shares the 2 cores: json.loads cost it 4 ms a batch
            if len(answer["outcomes"]) != len(chunk):
                failures.append("an answer without one outcome per record")
            for key in ("credited", "duplicate", "refused"):
                mine[key] += answer[key]
        conn.close()
        with lock:
            for key in mine:
                counts[key] += mine[key]

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    if meter:
        meter.start()
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if meter:
        meter.stop()
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return elapsed, counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--postgres", default=DEFAULT_PG)
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers (the machine's cores)")
    p.add_argument("--clients", type=int, default=2, help="concurrent client connections (one per worker)")
    p.add_argument("--records", type=int, default=100_000, help="records per round, batched mode")
    p.add_argument("--single", type=int, default=3_000, help="records per round, one per request")
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--duplicates", type=float, default=0.05, help="share of records repeating an earlier trip")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    now = int(time.time())
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as d, LocalNode(block_time=None) as node:
        tmp = Path(d)
        with database(args.postgres) as (engine, db_url):
            t0 = time.perf_counter()
            bearer, accounts = populate(engine, args.accounts, now)
            print(f"setup: {args.accounts:,} accounts with consent in {time.perf_counter() - t0:.1f} s")
            stream = Stream(accounts, args.duplicates, now)
            batched, single, cpu, busy = [], [], [], []
            totals = {"credited": 0, "duplicate": 0, "refused": 0, "resent": 0}
            with server(db_url, tmp, node, args.workers) as (host, port, pid):
                groups = {"API workers": lambda: [pid, *children(pid)]}
                if (pg := postgres_processes(engine)) is not None:
                    groups["PostgreSQL"] = pg
                meter = Meter(groups)
                for _ in range(2):  # warm both workers' imports and pools
                    totals["credited"] += send(host, port, bearer, [stream.take(BATCH)], 1)[1]["credited"]
                for r in range(args.rounds):
                    records = stream.take(args.records)
                    seconds, counts = send(
                        host,
                        port,
                        bearer,
                        [records[i : i + BATCH] for i in range(0, len(records), BATCH)],
                        args.clients,
                        meter,
                    )
                    batched.append(len(records) / seconds)
                    batches = -(-len(records) // BATCH)
                    cpu.append({name: s / batches * 1000 for name, s in meter.spent.items()})
                    busy.append(meter.busy)
                    ones = stream.take(args.single)
                    one_seconds, one_counts = send(host, port, bearer, [[x] for x in ones], args.clients)
                    single.append(len(ones) / one_seconds)
                    for c in (counts, one_counts):
                        for key in totals:
                            totals[key] += c[key]
                    print(
                        f"round {r + 1}: batches of {BATCH:,}: {batched[-1]:,.0f} records/s "
                        f"({counts['credited']:,} credited, {counts['duplicate']:,} duplicate, {counts['refused']:,} refused, "
                        f"{counts['resent']} requests resent after a 409/503); "
                        f"one per request: {single[-1]:,.0f} records/s"
                    )
                    print(f"         CPU a batch of {BATCH:,}: {_cpu_line(cpu[-1])}; machine busy {busy[-1]:.0%}")
            with engine.connect() as conn:
                held = conn.execute(select(func.count()).select_from(ENTRIES)).scalar_one()
                distinct = conn.execute(select(func.count(func.distinct(ENTRIES.c.txn)))).scalar_one()
                problems = ledger.audit(engine)
        b, s = statistics.median(batched), statistics.median(single)
        print(
            f"\nmedian over {args.rounds} rounds ({args.workers} uvicorn workers, {args.clients} clients, "
            f"{args.duplicates:.0%} duplicates in the stream):"
        )
        print(f"  batches of {BATCH:,}:   {b:,.0f} records/s   (target ≥ {TARGET_RATE:,})")
        print(f"  one per request:  {s:,.0f} records/s")
        print(f"  ratio:            {b / s:,.1f}×   (target ≥ {TARGET_RATIO}×)")
        per_batch = {name: statistics.median(c[name] for c in cpu) for name in cpu[0]}
        total = sum(per_batch.values())
        # every process serving the batches counted: with the cores always busy, no more than this
        ceiling = CORES * 1000 / total * BATCH
        print(f"  CPU a batch:      {_cpu_line(per_batch)} (medians); machine busy {statistics.median(busy):.0%}")
        print(f"  CPU ceiling:      {ceiling:,.0f} records/s with all {CORES} cores of this machine busy")
        print(f"  refused: {totals['refused']:,} (caps); ledger: {held:,} postings in {distinct:,} transactions")
        # a batch's credits are one transaction: a posting per credited behaviour and the source's total
        if held != totals["credited"] + distinct or problems:
            raise SystemExit(
                f"the ledger holds {held:,} postings in {distinct:,} transactions for {totals['credited']:,} credits: "
                f"not one each and one a transaction; audit: {problems[:3]}"
            )
        ok = b >= TARGET_RATE and b / s >= TARGET_RATIO
        print("  PASS" if ok else "  BELOW TARGET")
        sys.exit(0 if ok else 1)


def _cpu_line(spent: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in spent.items())
    return f"{parts} = {sum(spent.values()):.1f} ms"


if __name__ == "__main__":
    main()
