"""End to end at scale (issue 19's benchmark, docs/offsets.md): N purchases → aggregated retirements
of up to M → N personal certificates, each verified through POST /api/v1/verify. Prints the time of
each stage, the gas per person and the verification p50; asserts every certificate is valid.

    OFFSETS_BENCH_N=2000 .venv/bin/python -m pytest -p no:cacheprovider -q -s tests/offsets/test_benchmark.py

N defaults to 60 so the suite stays quick; M (OFFSETS_BENCH_M) to 1000."""

from __future__ import annotations

import os
import statistics
import time

from fastapi.testclient import TestClient

from api.app import create_app
from offsets.certify import certify_retired
from offsets.purchases import purchase
from tests.offsets.conftest import Platform, account


def test_purchases_to_verified_certificates(platform: Platform) -> None:
    p = platform
    n = int(os.environ.get("OFFSETS_BENCH_N", "60"))
    m = int(os.environ.get("OFFSETS_BENCH_M", "1000"))
    kg = 1  # a few kilograms a person in the issue; 1 kg each keeps N within the holder's 20,000 kg
    t0 = time.perf_counter()
    for i in range(n):
        purchase(p.engine, account(f"bench-{i}", "s"), kg, f"bench-{i}", now=1_000 + i)
    t1 = time.perf_counter()
    settled = []
    batcher = p.batcher(max_purchases=m)
    while done := batcher.run_once():
        settled += done
    t2 = time.perf_counter()
    assert sum(s.purchases for s in settled) == n and sum(s.amount for s in settled) == n * kg
    gas = sum(int(p.client.rpc.call("eth_getTransactionReceipt", s.tx_hash)["gasUsed"], 16) for s in settled)
    ids = certify_retired(p.service)
    assert len(ids) == n
    assert p.service.anchor(force=True) is not None
    t3 = time.perf_counter()
    timings = []
    with TestClient(create_app(p.service.context)) as api:
        for cert_id in ids:
            doc = p.service.document(cert_id)
            start = time.perf_counter()
            answer = api.post("/api/v1/verify", json=doc)
            timings.append(time.perf_counter() - start)
            assert answer.status_code == 200 and answer.json()["verdict"] == "valid", answer.text
    t4 = time.perf_counter()
    print(
        f"\n{n} purchases: store {t1 - t0:.2f} s, retire {t2 - t1:.2f} s in {len(settled)} retireFor, "
        f"certify+anchor {t3 - t2:.2f} s, verify {t4 - t3:.2f} s; purchase→certificate {t3 - t0:.2f} s; "
        f"gas {gas} = {gas / n:.0f} a person; API verify p50 {statistics.median(timings) * 1000:.1f} ms"
    )
