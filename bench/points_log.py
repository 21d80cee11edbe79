"""The points log on PostgreSQL: `append_pending` throughput for a backlog of ledger entries (rounds
of `--limit` in one transaction each), beside a naive baseline that appends one entry per
transaction (lock, read it, append it, mark it); then a statement page's proofs and the tamper check.

    .venv/bin/python bench/points_log.py [--postgres URL] [--entries 100000] [--limit 10000] [--baseline 5000]

A database of its own is created on --postgres's server and dropped at the end. The entries are
written straight into points_entries (balanced pairs, as accounts.ledger.post writes them; not
measured): what is measured is the append step alone. The baseline runs first, on a database of its
own with a backlog of --baseline entries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, insert, select, text, update

from accounts import pointslog
from accounts.ledger_models import PointsEntry
from tests.pgdb import scratch_engine

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
TEN_YEARS = 10 * 365 * 86_400
ENTRY = PointsEntry.__table__  # type: ignore[attr-defined]


def backlog(engine: Engine, n: int, start: int) -> None:
    """`n` unlogged entries: credits of 100 points, source -100 then person +100."""
    rows = []
    for i in range(start, start + n, 2):
        txn = f"credit:bench-{i // 2}"
        rows.append(
            {
                "txn": txn,
                "account": "source:bench-app",
                "amount": -100,
                "kind": "credit",
                "ref": txn[7:],
                "created_at": T0,
                "expires_at": None,
            }
        )
        rows.append(
            {
                "txn": txn,
                "account": f"person:acc_bench{i % 997:021d}",
                "amount": 100,
                "kind": "credit",
                "ref": txn[7:],
                "created_at": T0,
                "expires_at": T0 + TEN_YEARS,
            }
        )
    with engine.begin() as conn:
        for at in range(0, len(rows), 10_000):
            conn.execute(insert(ENTRY), rows[at : at + 10_000])


def naive_append(engine: Engine) -> int:
    """One entry per transaction, the way a post-time hook would append: lock, read, append, mark."""
    log = pointslog.points_log(engine)
    done = 0
    while True:
        with engine.begin() as conn:
            log.lock(conn)
            row = conn.execute(
                select(*[ENTRY.c[f] for f in pointslog.LEAF_FIELDS])
                .where(ENTRY.c.log_idx.is_(None))
                .order_by(ENTRY.c.id)
                .limit(1)
            ).first()
            if row is None:
                return done
            (idx,) = log.append(conn, [(pointslog.leaf_hash(row._mapping), row.kind, str(row.id))])
            conn.execute(update(ENTRY).where(ENTRY.c.id == row.id).values(log_idx=idx))
        done += 1


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "--postgres",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://ledger:ledger@127.0.0.1:5432/ledger_test"),
    )
    p.add_argument("--entries", type=int, default=100_000)
    p.add_argument("--limit", type=int, default=10_000, help="entries per round (append_pending's limit)")
    p.add_argument("--baseline", type=int, default=5_000, help="entries appended one per transaction (0: skip)")
    args = p.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    if args.baseline:  # a database of its own: the same starting point as append_pending's
        with scratch_engine(args.postgres, "bench_points_log") as engine:
            backlog(engine, args.baseline, 0)
            t = time.perf_counter()
            one = naive_append(engine)
            naive = one / (time.perf_counter() - t)
    with scratch_engine(args.postgres, "bench_points_log") as engine:
        backlog(engine, args.entries, 0)
        t = time.perf_counter()
        appended = pointslog.append_pending(engine, limit=args.limit)
        spent = time.perf_counter() - t
        assert appended == args.entries and pointslog.points_log(engine).size() == args.entries
        rate = appended / spent
        print(
            f"append_pending: {appended:,} entries in {spent:.2f} s: {rate:,.0f} entries/s (rounds of {args.limit:,})"
        )
        if args.baseline:
            print(
                f"naive baseline, one entry per transaction: {one:,} entries: {naive:,.0f} entries/s "
                f"(append_pending {rate / naive:,.1f}x)"
            )
        size = pointslog.points_log(engine).size()
        with engine.begin() as conn:  # anchored as `anchor` records it (the chain is not needed to time proofs)
            conn.execute(
                text("INSERT INTO points_log_anchors VALUES (:s, :r, '', 0, 0)"),
                {"s": size, "r": pointslog.points_log(engine).root(size).hex()},
            )
        times = []
        for page in range(200):
            first = 1 + page * 350 % (size - 50)
            t = time.perf_counter()
            got = pointslog.proofs(engine, range(first, first + 50))
            times.append((time.perf_counter() - t) * 1000)
            assert len(got) == 50 and all(p.anchored for p in got.values())
        print(f"proofs for a statement page of 50 entries (log of {size:,}): median {statistics.median(times):.2f} ms")
        t = time.perf_counter()
        problems = pointslog.check(engine, None, now=T0)
        print(
            f"tamper check (every leaf re-hashed, every transaction summed): {size:,} entries in "
            f"{time.perf_counter() - t:.2f} s, {len(problems)} problems"
        )


if __name__ == "__main__":
    main()
