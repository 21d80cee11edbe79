"""The public registry (issue 17) on a mirror of 1,000,000 retirements: list and search latency,
the dashboard, and a full CSV export streamed, each beside a naive baseline.

    .venv/bin/python bench/public_registry.py [--retirements 1000000] [--repeat 200] \
        [--postgres postgresql://ledger:ledger@127.0.0.1:5432/postgres]

The mirror is synthetic: rows bulk-inserted straight into the mirror's tables of a fresh database
(the indexer's own migrations, so its indexes are the production ones): 3 methodologies, 200
projects in 20 counties, 2,000 batches, the retirements spread over 9 scenarios and 200,000 blocks,
10,000 cancellations. Amounts are random (seeded): illustrative, not registry data.

Measured, each on the same database:
- list and search: the first page (50 rows) of retirements, by scenario, by batch, by period, and
  page 2,000 reached by its cursor; the naive baseline is the same deep page by OFFSET.
- dashboard: statistics computed from the tables (cold: what the first request after a new block
  pays) and remembered (warm: every other request), plus drawing the five SVG charts.
- export: the full retirements CSV, streamed by public/export.py in a child process (rows/s and
  its peak RSS); the naive baseline fetches every row into a list and writes the CSV in memory.
With --postgres, the same on a PostgreSQL database of its own (created, then dropped).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics as st
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text

from indexer.db import create_schema, make_engine
from public import charts, lists, stats
from tests.pgdb import scratch_database

SCENARIOS = [
    "large_event",
    "organisation",
    "product",
    "building",
    "region",
    "tree_planting_duty",
    "ecological_justice",
    "personal",
    "voluntary",
]
BLOCKS = 200_000
PROJECTS, BATCHES_PER_PROJECT = 200, 10


def populate(engine: Engine, n: int, seed: int = 17) -> None:
    rnd = random.Random(seed)
    h = "0x" + "42" * 32
    batches = PROJECTS * BATCHES_PER_PROJECT
    per_batch = [0] * batches
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        cur = raw.cursor()
        mark = "?" if engine.dialect.name == "sqlite" else "%s"

        def insert(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
            for i in range(0, len(rows), 50_000):
                cur.executemany(sql, rows[i : i + 50_000])

        insert(
            "methodologies",
            ["id", "ecosystem", "version", "document_hash", "status", "successor_id"],
            [("SCFM-001-V01", "forest", 1, h, "filed", None), ("SCGM-001-V01", "grassland", 1, h, "filed", None)]
            + [("SCWM-001-V01", "wetland", 1, h, "filed", None)],
        )
        owners = [f"0x{i:040x}" for i in range(1, 2001)]
        insert(
            "participants",
            ["address", "kind", "status", "reference_hash"],
            [(a, "enterprise", "suspended" if i % 100 == 0 else "active", h) for i, a in enumerate(owners)],
        )
        insert(
            "participant_status_changes",
            ["block_number", "log_index", "address", "previous", "status", "reason_hash", "tx_hash"],
            [(1000 + i, 0, a, "active", "suspended", h, h) for i, a in enumerate(owners) if i % 100 == 0],
        )
        methodologies = ["SCFM-001-V01", "SCGM-001-V01", "SCWM-001-V01"]
        insert(
            "projects",
            ["id", "methodology_id", "owner", "county_code", "area_square_metres", "crediting_start"]
            + ["crediting_end", "documents_hash", "status", "review_report_hash", "batch_count"],
            [
                (f"P-{511800 + p % 20}-{p:04d}", methodologies[p % 3], owners[p], 511800 + p % 20, 2_000_000)
                + (1_700_000_000, 2_300_000_000, h, "registered", h, BATCHES_PER_PROJECT)
                for p in range(PROJECTS)
            ],
        )
        amounts = [rnd.randint(1, 2_000) for _ in range(n)]
        batch_of = [rnd.randrange(batches) for _ in range(n)]
        for b, a in zip(batch_of, amounts, strict=True):
            per_batch[b] += a
        insert(
            "batches",
            ["id", "project_id", "batch_seq", "vintage", "first_serial", "issued", "retired", "cancelled"]
            + ["reserve_amount", "owner", "op_id", "block_number", "tx_hash"],
            [
                (b + 1, f"P-{511800 + (b // 10) % 20}-{b // 10:04d}", b % 10 + 1, 2016 + b % 10, 1 + b * 10**9)
                + (per_batch[b] * 2, per_batch[b], 0, per_batch[b] // 10, owners[b // 10], hex(b), b * 50, h)
                for b in range(batches)
            ],
        )
        rows = []
        per_block = max(1, n // BLOCKS)
        for i in range(n):
            block, log = 100_000 + i // per_block, i % per_block
            rid = f"31337-0x{block:064x}-{log}"
            rows.append(
                (rid, batch_of[i] + 1, owners[i % 2000], owners[i % 2000], amounts[i], SCENARIOS[i % 9], h, h)
                + (hex(i), block, log, f"0x{block:064x}")
            )
            if len(rows) == 100_000:
                insert(
                    "retirements",
                    ["id", "batch_id", "holder", "operator", "amount", "scenario", "beneficiary_commitment"]
                    + ["claim_hash", "op_id", "block_number", "log_index", "tx_hash"],
                    rows,
                )
                rows = []
        if rows:
            insert(
                "retirements",
                ["id", "batch_id", "holder", "operator", "amount", "scenario", "beneficiary_commitment"]
                + ["claim_hash", "op_id", "block_number", "log_index", "tx_hash"],
                rows,
            )
        insert(
            "cancellations",
            ["id", "batch_id", "holder", "amount", "reason", "evidence_hash", "export_id", "op_id", "block_number"]
            + ["log_index", "tx_hash"],
            [
                (f"31337-0x{i:064x}-1", i % batches + 1, owners[0], 1, "correction", h, None, hex(i), 99_000 + i, 1, h)
                for i in range(10_000)
            ],
        )
        insert(
            "sync_cursor",
            ["chain_id", "address", "block_number", "block_hash"],
            [(31337, "0x" + "11" * 20, 100_000 + n // per_block, h)],
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def timed(fn: Any, repeat: int) -> dict[str, float]:
    fn()  # warm the page cache and statement caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(st.median(times), 2), "p95_ms": round(times[int(len(times) * 0.95) - 1], 2)}


def lists_and_search(engine: Engine, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        cases = {
            "retirements, first page": {},
            "retirements by scenario": {"scenario": "personal"},
            "retirements by batch": {"batch": "777"},
            "retirements by period (blocks)": {"from_block": "150000", "to_block": "150500"},
            "retirements by scenario and period": {"scenario": "large_event", "from_block": "120000"},
            "projects by county": {},
            "sanctions": {},
        }
        for label, given in cases.items():
            name = "projects" if "projects" in label else "sanctions" if label == "sanctions" else "retirements"
            if name == "projects":
                given = {"county": "511805"}
            out[label] = timed(lambda n=name, g=given: lists.page(conn, n, g), repeat)
        after = None
        for _ in range(2000):
            after = lists.page(conn, "retirements", {}, after).next_cursor
        out["retirements, page 2,001 by cursor"] = timed(lambda: lists.page(conn, "retirements", {}, after), repeat)
        s, f = lists.query("retirements", {})
        offset = lists.ordered(s, f).offset(2000 * lists.DEFAULT_LIMIT).limit(lists.DEFAULT_LIMIT)
        out["baseline: page 2,001 by OFFSET"] = timed(lambda: conn.execute(offset).all(), max(10, repeat // 10))
    return out


def dashboard(engine: Engine, repeat: int) -> dict[str, Any]:
    with engine.connect() as conn:

        def draw(s: stats.Statistics) -> None:
            for name, title in stats.BREAKDOWNS.items():
                rows = s.by[name]
                series: dict[str, list[int | None]] = {
                    k: [getattr(b, k) for b in rows] for k in ("issued_kg", "retired_kg", "cancelled_kg", "reserve_kg")
                }
                charts.bar_chart(title, [b.key for b in rows], series)

        t = time.perf_counter()
        draw(stats.statistics(conn))
        first = {"ms": round((time.perf_counter() - t) * 1000, 1)}
        warm = timed(lambda: draw(stats.statistics(conn)), repeat)
        tip = int(conn.execute(text("SELECT max(block_number) FROM sync_cursor")).scalar() or 0)
        times = []
        for i in range(max(5, repeat // 10)):  # a block with one retirement arrives before each request
            tip += 1
            with engine.begin() as w:
                w.execute(
                    text(
                        "INSERT INTO retirements (id, batch_id, holder, operator, amount, scenario, "
                        "beneficiary_commitment, claim_hash, op_id, block_number, log_index, tx_hash) "
                        "VALUES (:id, 1, '0x1', '0x1', 5, 'personal', '0x', '0x', :op, :b, 0, '0x')"
                    ),
                    {"id": f"31337-0x{tip:064x}-0", "op": f"new{i}", "b": tip},
                )
                w.execute(text("UPDATE sync_cursor SET block_number = :b"), {"b": tip})
            conn.commit()  # end the read transaction: the next request sees the new block
            t = time.perf_counter()
            draw(stats.statistics(conn))
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        baseline = timed(lambda: draw(naive_statistics(conn)), 5)
    return {
        "first request (every final block summed once per process)": first,
        "after each new block (final sums extended, the tail summed)": {"p50_ms": round(st.median(times), 2)},
        "same state again (remembered)": warm,
        "baseline: full recompute on every request": baseline,
    }


def naive_statistics(conn: Any) -> stats.Statistics:
    """Every sum from the tables, nothing remembered: what each request would pay without the cache."""
    stats._finals.clear()
    return stats.compute(conn)


CHILD = """
import sys, time, csv, io
sys.path.insert(0, {root!r})
from indexer.db import make_engine
from public import export, lists
engine = make_engine({url!r})
def hwm():  # peak RSS of this process in kB; unlike ru_maxrss, not inherited from the parent across exec
    return next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:"))
before = hwm()
cpu = time.process_time()
t = time.perf_counter(); rows = 0; size = 0
with engine.connect() as conn:
    if {naive!r}:
        s, f = lists.query("retirements", {{}})
        everything = conn.execute(lists.ordered(s, f)).all()
        out = io.StringIO(); w = csv.writer(out, lineterminator="\\n"); w.writerow(["record_type", *s.names])
        w.writerows(("retirement", *r) for r in everything)
        body = out.getvalue().encode(); size = len(body); rows = len(everything)
    else:
        for chunk in export.prepare("retirements", "csv", {{}}).chunks(conn):
            size += len(chunk); rows += chunk.count(b"\\n")
        rows -= 1
dt = time.perf_counter() - t
print(rows, size, dt, hwm(), before, time.process_time() - cpu)
"""


def export_run(url: str, naive: bool) -> dict[str, Any]:
    code = CHILD.format(root=str(ROOT), url=url, naive=naive)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows, size, seconds, rss_kb, before_kb, cpu = done.stdout.split()
    return {
        "rows": int(rows),
        "bytes": int(size),
        "seconds": round(float(seconds), 2),
        "rows_per_s": round(int(rows) / float(seconds)),
        "rows_per_cpu_s": round(int(rows) / float(cpu)),  # the process's own CPU: less sensitive to a busy machine
        "rss_before_mb": round(int(before_kb) / 1024, 1),
        "peak_rss_mb": round(int(rss_kb) / 1024, 1),
    }


def run(url: str, n: int, repeat: int, export_only: bool = False) -> dict[str, Any]:
    engine = make_engine(url)
    create_schema(engine)
    t = time.perf_counter()
    populate(engine, n)
    built = round(time.perf_counter() - t, 1)
    if export_only:
        return {
            "database": engine.dialect.name,
            "export (streamed)": export_run(url, naive=False),
            "baseline export (all in memory)": export_run(url, naive=True),
        }
    result = {
        "database": engine.dialect.name,
        "retirements": n,
        "populate_s": built,
        "lists": lists_and_search(engine, repeat),
        "dashboard": dashboard(engine, repeat),
        "export (streamed)": export_run(url, naive=False),
        "baseline export (all in memory)": export_run(url, naive=True),
    }
    engine.dispose()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--retirements", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--postgres", help="a PostgreSQL server URL; a database of its own is created and dropped")
    ap.add_argument("--export-only", action="store_true", help="only the export and its baseline")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/mirror.sqlite"
        print(json.dumps(run(url, args.retirements, args.repeat, args.export_only), indent=1))
    if args.postgres:
        with scratch_database(args.postgres, "ledger_bench_public") as url:
            print(json.dumps(run(url, args.retirements, args.repeat, args.export_only), indent=1))


if __name__ == "__main__":
    main()
