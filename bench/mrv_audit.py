"""`ledger audit`'s recomputation of batches issued from monitoring reports: 1,000 batches, each a
forest report stored content-addressed in SQLite (mrv/store.py), read back by their on-chain
verification hashes and recomputed (parse + checks + compute + hash), against a naive version in the same run (timed in
turns): one query a batch, and the plain per-row loop of bench/mrv.py in place of the vectorised
compute. The chain side (eth_getLogs) is not part of it: bench/audit.py times that.

    .venv/bin/python bench/mrv_audit.py --batches 1000 --plots 40 --trees 400 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mrv
from audit.reconcile import recompute_stored
from bench.mrv import loop
from certificates.db import create_schema
from indexer.db import make_engine
from mrv import store
from mrv.check import check

GROUPS = ["cupressus", "picea", "abies", "pinus_massoniana", "quercus"]


def report(k: int, plots: int, trees: int, rng: np.random.Generator) -> bytes:
    """Batch k's report: two strata, `plots` plots of 600 m² measured twice, every other plot by
    its trees (`trees` in all, larger at the second visit), the rest by a measured volume."""
    strata = [
        {
            "id": f"S{s}",
            "area_ha": int(rng.integers(50, 400)),
            "species_group": GROUPS[(k + s) % len(GROUPS)],
            "crediting_start": "2020-01-01",
            "crediting_end": "2039-12-31",
        }
        for s in range(2)
    ]
    doc: dict[str, Any] = {
        "format": "ledger-monitoring-report/1",
        "report": {
            "project": f"P-BENCH-{k:04d}",
            "methodology": "SCFM-001-V01@1",
            "monitoring_start": "2020-01-01",
            "monitoring_end": "2024-12-31",
        },
        "strata": strata,
        "plots": [],
        "visits": [],
        "trees": [],
        "emissions": [],
    }
    counted = [p for p in range(plots) if p % 2 == 0]
    for p in range(plots):
        pid = f"p{p}"
        doc["plots"].append({"id": pid, "stratum": f"S{p % 2}", "area_m2": 600})
        if p % 2:
            v1 = round(float(rng.uniform(20, 60)), 1)
            doc["visits"] += [
                {"plot": pid, "date": "2020-06-01", "volume_m3_ha": v1},
                {"plot": pid, "date": "2024-06-01", "volume_m3_ha": round(v1 + float(rng.uniform(5, 15)), 1)},
            ]
    for t in range(trees):
        pid, second = f"p{counted[t % len(counted)]}", (t // len(counted)) % 2
        doc["trees"].append(
            {
                "plot": pid,
                "date": "2024-06-01" if second else "2020-06-01",
                "dbh_cm": round(float(rng.uniform(8, 30)) + 2.0 * second, 1),
                "height_m": round(float(rng.uniform(5, 18)) + 1.5 * second, 1),
            }
        )
    lines = ["{"] + [
        f'  "{key}": [\n' + ",\n".join("    " + json.dumps(r) for r in value) + "\n  ]," if isinstance(value, list)
        else f'  "{key}": {json.dumps(value)},'
        for key, value in doc.items()
    ]  # fmt: skip
    lines[-1] = lines[-1].rstrip(",")
    return ("\n".join(lines) + "\n}\n").encode()


def looped(stored: store.Stored) -> mrv.Result:
    """The naive recomputation: the same parse and checks, then bench/mrv.py's per-row loop."""
    assert stored.report is not None
    parsed = mrv.parse_report(stored.report, "report")
    bundle = mrv.reference(stored.methodology)
    check(parsed, bundle)  # the same checks the vectorised path runs
    return loop(parsed, bundle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=1_000)
    parser.add_argument("--plots", type=int, default=40, help="plots per report")
    parser.add_argument("--trees", type=int, default=400, help="trees per report")
    parser.add_argument("--runs", type=int, default=3, help="rounds: one vectorised and one loop recomputation each")
    args = parser.parse_args()
    rng = np.random.default_rng(14)
    bundle = mrv.bundle("SCFM-001-V01", 1)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'audit.sqlite'}")
        create_schema(engine)
        verification, issued = {}, {}
        with engine.begin() as conn:
            for k in range(args.batches):
                data = report(k, args.plots, args.trees, rng)
                result = mrv.compute(mrv.parse_report(data, "report"), bundle)
                store.put(conn, data, result)
                verification[k + 1], issued[k + 1] = "0x" + result.sha256, result.quantity_kg
        size = sum(len(s.report or b"") for s in store.found(engine.connect(), verification.values()).values())
        print(
            f"{args.batches:,} batches, each a report of {args.plots} plots and {args.trees} trees "
            f"({size / args.batches / 1000:.0f} kB); SQLite, schema by certificates/db.py"
        )

        def audit() -> tuple[int, int]:
            with engine.connect() as conn:
                found = recompute_stored(conn, verification, issued)
            return len(found.recomputed), len(found.differences)

        def naive() -> tuple[int, int]:
            differences = 0
            with engine.connect() as conn:
                for batch, key in verification.items():  # one query a batch, as a first version would
                    stored = store.get(conn, key)
                    assert stored is not None
                    again = looped(stored)
                    differences += again.quantity_kg != issued[batch]
            return len(verification), differences

        fast, slow = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            recomputed, differences = audit()
            fast.append(time.perf_counter() - start)
            start = time.perf_counter()
            naive_n, naive_differences = naive()
            slow.append(time.perf_counter() - start)
        f, s = statistics.median(fast), statistics.median(slow)
        print(
            f"audit recomputation (mrv.compute)      median of {args.runs}: {f:6.2f} s  <= 10 s "
            f"{'ok' if f <= 10 else 'OVER'}; {recomputed:,} recomputed, {differences} differences"
        )
        print(
            f"naive: plain per-row loop (bench/mrv.py) median of {args.runs}: {s:6.2f} s  (timed in turns); "
            f"{naive_n:,} recomputed, {naive_differences} differences; speed-up {s / f:.1f}x"
        )
        if differences or naive_differences or recomputed != args.batches:
            raise SystemExit("a recomputation differs from what was issued")


if __name__ == "__main__":
    main()
