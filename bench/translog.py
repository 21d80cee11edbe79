"""The certificate transparency log in SQL: append rate, inclusion / consistency proof times at
~1,000, ~100,000 and 1,000,000 entries, and pymerkle 7.0.0's SQLite tree as a naive baseline.

    .venv/bin/python bench/translog.py [--size 1000000] [--batch 1000] [--ones 20000]
                                       [--baseline 20000] [--postgres URL] [--pg-size N]

Every append is its own transaction (engine.begin() + commit), as a caller's would be. Proof
times include taking a connection from the engine's pool (conn=None), as an API request would.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine
from sqlmodel import SQLModel

from certificates.translog import TransparencyLog
from certificates.translog.models import TABLES
from chain import rfc9162
from indexer.db import make_engine

PROOFS = 2000


def leaves(start: int, count: int) -> list[tuple[bytes, str, str]]:
    return [(rfc9162.leaf_hash(b"certificate %d" % i), "certificate", f"C-{i}") for i in range(start, start + count)]


def fresh(url: str) -> tuple[Engine, TransparencyLog]:
    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine, tables=TABLES)
    SQLModel.metadata.create_all(engine, tables=TABLES)
    return engine, TransparencyLog(engine)


def grow(engine: Engine, log: TransparencyLog, until: int, batch: int) -> float:
    """Append batches (each its own transaction) until the log has `until` leaves; the seconds
    spent inside append + commit."""
    n, spent = log.size(), 0.0
    while n < until:
        b = leaves(n, min(batch, until - n))
        t = time.perf_counter()
        with engine.begin() as conn:
            log.append(conn, b)
        spent += time.perf_counter() - t
        n += len(b)
    return spent


def timed(calls: list[Callable[[], object]]) -> tuple[float, float]:
    """Median and p99 in ms."""
    times = []
    for call in calls:
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def proofs(log: TransparencyLog, n: int, rng: random.Random) -> str:
    inc = timed([partial(log.inclusion_proof, rng.randrange(n), n) for _ in range(PROOFS)])
    pairs = [sorted((rng.randint(1, n), rng.randint(1, n))) for _ in range(PROOFS)]
    con = timed([lambda a=a, b=b: log.consistency_proof(a, b) for a, b in pairs])
    root = timed([partial(log.root, rng.randint(1, n)) for _ in range(PROOFS)])
    with log.engine.connect() as conn:  # a connection held across requests
        held = timed([partial(log.inclusion_proof, rng.randrange(n), n, conn) for _ in range(PROOFS)])
    # one sample checked against the verifiers, so the timings are of right answers
    i, (a, b) = rng.randrange(n), pairs[0]
    assert rfc9162.verify_inclusion(i, n, log.leaf(i)[0], log.inclusion_proof(i, n), log.root(n))
    assert rfc9162.verify_consistency(a, b, log.root(a), log.root(b), log.consistency_proof(a, b))
    return (
        f"  size {n:>9,}: inclusion median {inc[0]:.3f} ms, p99 {inc[1]:.3f} ms; "
        f"consistency median {con[0]:.3f} ms, p99 {con[1]:.3f} ms; root of a past size median {root[0]:.3f} ms; "
        f"inclusion on a held connection median {held[0]:.3f} ms"
    )


def run(url: str, size: int, batch: int, checkpoints: list[int], rng: random.Random) -> TransparencyLog:
    engine, log = fresh(url)
    spent = 0.0
    for c in [c for c in checkpoints if c < size] + [size]:
        spent += grow(engine, log, c, batch)
        print(f"  appended {c:>9,} in {spent:.1f} s: {c / spent:,.0f} appends/s (batches of {batch:,})", flush=True)
        print(proofs(log, c, rng), flush=True)
    return log


def small_batches(engine: Engine, log: TransparencyLog, count: int) -> str:
    """Appends/s for small batches each in its own transaction, and for `count` calls of one
    entry inside one transaction (the append's own cost, without the commit)."""
    figures, at = [], log.size()
    for batch in (1, 10, 100):
        start = log.size()
        t = time.perf_counter()
        for i in range(start, start + count, batch):
            b = leaves(i, batch)
            with engine.begin() as conn:
                log.append(conn, b)
        figures.append(f"batches of {batch}: {count / (time.perf_counter() - t):,.0f}/s")
    start = log.size()
    b = [leaves(i, 1) for i in range(start, start + count)]
    t = time.perf_counter()
    with engine.begin() as conn:
        for e in b:
            log.append(conn, e)
    shared = count / (time.perf_counter() - t)
    return (
        f"  from size {at:,}, {count:,} entries each, one transaction per batch: {'; '.join(figures)}\n"
        f"  {count:,} appends of 1 entry inside one transaction: {shared:,.0f}/s"
    )


def pymerkle_baseline(directory: Path, count: int, rng: random.Random) -> None:
    from pymerkle import SqliteTree

    print(f"baseline, the same {count:,} entries, pymerkle 7.0.0 SqliteTree vs this log (both SQLite files):")
    data = [b"certificate %d" % i for i in range(count)]
    tree = SqliteTree(str(directory / "pymerkle.sqlite"))
    t = time.perf_counter()
    for d in data:
        tree.append_entry(d)  # pymerkle commits every entry
    pm_append = count / (time.perf_counter() - t)
    pm_inc = timed([partial(tree.prove_inclusion, rng.randint(1, count), count) for _ in range(PROOFS)])
    pairs = [sorted((rng.randint(1, count), rng.randint(1, count))) for _ in range(PROOFS)]
    pm_con = timed([lambda a=a, b=b: tree.prove_consistency(a, b) for a, b in pairs])
    assert tree.get_root(count) == rfc9162.root_of([rfc9162.leaf_hash(d) for d in data])  # same tree, same root
    tree.close()

    engine, log = fresh(f"sqlite:///{directory / 'ours-baseline.sqlite'}")
    t = time.perf_counter()
    for i in range(count):
        with engine.begin() as conn:
            log.append(conn, leaves(i, 1))
    our_append = count / (time.perf_counter() - t)
    our_inc = timed([partial(log.inclusion_proof, rng.randrange(count), count) for _ in range(PROOFS)])
    our_con = timed([lambda a=a, b=b: log.consistency_proof(a, b) for a, b in pairs])
    engine.dispose()
    print(
        f"  append, one transaction per entry: pymerkle {pm_append:,.0f}/s, this log {our_append:,.0f}/s "
        f"({our_append / pm_append:.1f}x)"
    )
    print(
        f"  inclusion proof median: pymerkle {pm_inc[0]:.3f} ms, this log {our_inc[0]:.3f} ms "
        f"({pm_inc[0] / our_inc[0]:.1f}x faster); p99 {pm_inc[1]:.3f} vs {our_inc[1]:.3f} ms"
    )
    print(
        f"  consistency proof median: pymerkle {pm_con[0]:.3f} ms, this log {our_con[0]:.3f} ms "
        f"({pm_con[0] / our_con[0]:.1f}x faster); p99 {pm_con[1]:.3f} vs {our_con[1]:.3f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--ones", type=int, default=20_000, help="entries appended in small batches at the end")
    p.add_argument("--baseline", type=int, default=20_000, help="size of the pymerkle comparison (0: skip)")
    p.add_argument("--postgres", help="also measure on this PostgreSQL database (its log tables are dropped)")
    p.add_argument("--pg-size", type=int, default=None, help="log size on PostgreSQL (default: --size)")
    p.add_argument("--dir", type=Path, default=None, help="where the SQLite files go (default: a temporary directory)")
    args = p.parse_args()
    rng = random.Random(9162)
    checkpoints = [1000, 100_000]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        print(f"SQLite ({directory}), {args.size:,} entries:", flush=True)
        url = f"sqlite:///{directory / 'log.sqlite'}"
        log = run(url, args.size, args.batch, checkpoints, rng)
        print(small_batches(log.engine, log, args.ones), flush=True)
        print(
            f"  database file: {os.path.getsize(directory / 'log.sqlite') / 2**20:,.0f} MiB ({log.size():,} entries)",
            flush=True,
        )
        log.engine.dispose()
        if args.postgres:
            size = args.pg_size or args.size
            print(f"PostgreSQL, {size:,} entries:", flush=True)
            pg = run(args.postgres, size, args.batch, checkpoints, rng)
            print(small_batches(pg.engine, pg, min(args.ones, 2000)), flush=True)
            SQLModel.metadata.drop_all(pg.engine, tables=TABLES)
            pg.engine.dispose()
        if args.baseline:
            pymerkle_baseline(directory, args.baseline, rng)


if __name__ == "__main__":
    main()
