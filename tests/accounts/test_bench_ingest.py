"""bench/accounts_ingest_domain.py runs on a small N (the 30-batch runs are docs/benchmarks.md's):
the script checks every outcome and the ledger it leaves (a posting per credit and one per batch,
its txn count) and prints the figures docs/accounts_ingest.md quotes."""

from __future__ import annotations

import re
import subprocess
import sys
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
    assert re.search(r"CPU per batch: this process [\d.]+ ms", done.stdout), done.stdout


def test_the_api_benchmark_runs_on_two_thousand_records(postgres_url: str) -> None:
    """Through uvicorn on a small N: every answer checked, the ledger audited; the rate on 2,000
    records says nothing (it exits 1 below the target), the checks do."""
    args = ["--postgres", postgres_url, "--records", "2000", "--single", "40", "--rounds", "1", "--accounts", "300"]
    done = _bench("accounts_ingest.py", *args)
    out = done.stdout
    assert done.returncode in (0, 1) and ("  PASS" in out or "  BELOW TARGET" in out), out[-2000:] + done.stderr[-2000:]
    assert "refused: 0 (caps); ledger:" in out and "the ledger holds" not in out + done.stderr, out
    assert re.search(r"round 1: batches of 1,000: [\d,]+ records/s \([\d,]+ credited", out), out
