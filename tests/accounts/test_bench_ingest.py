"""bench/accounts_ingest_domain.py runs on a small N (the 30-batch runs are docs/benchmarks.md's):
the script checks every outcome and the ledger it leaves (a posting per credit and one per batch,
its txn count) and prints the figures docs/accounts_ingest.md quotes."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_domain_benchmark_runs_on_three_batches(postgres_url: str) -> None:
    args = ["--postgres", postgres_url, "--batches", "3", "--threads", "2", "--accounts", "300"]
    done = _bench("accounts_ingest_domain.py", *args)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Exception" not in done.stderr, done.stderr[-2000:]
    got = re.search(
        r"3000 records in [\d.]+ s = [\d,]+ records/s \(2 thread\(s\)\); credited (\d+), duplicate (\d+)", done.stdout
    )
    assert got, done.stdout
    assert int(got[1]) + int(got[2]) <= 3000 and int(got[1]) > 0
    assert re.search(r"CPU per batch: this process [\d.]+ ms, PostgreSQL [\d.]+ ms; machine busy \d+%", done.stdout), (
        done.stdout
    )


def test_the_api_benchmark_runs_on_two_thousand_records(postgres_url: str) -> None:
    """Through uvicorn on a small N: every answer checked, the ledger audited; the rate on 2,000
    records says nothing (it exits 1 below the target), the checks do."""
    args = ["--postgres", postgres_url, "--records", "2000", "--single", "40", "--rounds", "1", "--accounts", "300"]
    done = _bench("accounts_ingest.py", *args)
    out = done.stdout
    assert done.returncode in (0, 1) and ("  PASS" in out or "  BELOW TARGET" in out), out[-2000:] + done.stderr[-2000:]
    assert "refused: 0 (caps); ledger:" in out and "the ledger holds" not in out + done.stderr, out
    assert re.search(r"round 1: batches of 1,000: [\d,]+ records/s \([\d,]+ credited", out), out
    # every process serving the batches is counted: the workers and the server did work
    spent = re.search(r"CPU a batch: +API workers ([\d.]+), PostgreSQL ([\d.]+), client ([\d.]+) = ([\d.]+) ms", out)
    assert spent and float(spent[1]) > 0 and float(spent[2]) > 0, out
    assert abs(sum(float(x) for x in spent.groups()[:3]) - float(spent[4])) < 0.2, out
    assert re.search(r"CPU ceiling: +[\d,]+ records/s with all \d+ cores", out), out


def test_the_meter_counts_a_busy_child_and_the_server(postgres_url: str) -> None:
    """bench/cpu.py: CPU a running child burns is found under its group, and the PostgreSQL
    server's processes from a connection (the server runs on this machine in the tests)."""
    from sqlalchemy import create_engine, text

    from bench.cpu import Meter, postgres_processes

    engine = create_engine(postgres_url)
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        pg = postgres_processes(engine)
        assert pg is not None and len(pg()) > 1
        meter = Meter({"child": lambda: [child.pid], "PostgreSQL": pg})
        meter.start()
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM generate_series(1, 3000000)")).scalar_one()
        time.sleep(0.5)
        meter.stop()
    finally:
        child.kill()
        child.wait()
        engine.dispose()
    assert meter.spent["child"] > 0.2, meter.spent  # a busy loop, on one of the two cores
    assert meter.spent["PostgreSQL"] > 0.05, meter.spent
    assert 0 < meter.busy <= 1
