"""Redemption throughput on PostgreSQL (issue 18: ≥ 2,000 redemptions/s without oversell), beside three
baselines measured in the same run on the same database:

- "one statement" (accounts.rights.redeem as shipped on PostgreSQL): claim, conditional stock
  `UPDATE … SET stock = stock - 1 WHERE id = ? AND stock > 0 …`, FIFO debit, in one statement;
- "statement by statement": the same steps as separate statements (the SQLite path), correct;
- "read-then-write": statement by statement, but the stock is SELECTed and then UPDATEd to the
  value read minus one (no condition, no lock): concurrent redemptions read the same stock, so it
  sells more units than it holds;
- "one lock": the shipped statement serialised through one PostgreSQL advisory lock: correct, slow;

and the group-commit paths (accounts/redeem_batch.py), many redemptions per transaction and commit:

- "batcher": --callers threads (default --threads) each call `RedemptionBatcher.redeem` one request
  at a time and wait for its commit, as API worker threads would; --workers batches (connections)
  in flight at once. Its throughput is callers / latency of a batch (Little's law), so it needs
  more callers than the one-connection-per-request modes to reach the same rate;
- "redeem_many": --threads threads each hand `redeem_many` --batch requests at a time.

    .venv/bin/python bench/accounts_redeem.py [--postgres URL] [--threads 8] [--redemptions 10000]
        [--accounts 20000] [--rights 200] [--stock 45] [--batch 100] [--workers 2] [--only LABEL …]

Each mode gets fresh rights (--rights × --stock units: fewer than the requests, so rights sell out
and the oversell check bites) and draws accounts and rights at random from the same seed; every
redemption is its own transaction with its own idempotency key, through a pool of --threads
connections. Afterwards, per right: units sold (redemptions) must equal stock before − stock after
and never exceed the stock before; every redemption has exactly one debit transaction. The
database is created for the run and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Connection, Engine, func, insert, select, text, update

from accounts import ledger, rights
from accounts.errors import AccountsError, ConflictError
from accounts.ledger_models import ENTRIES, REDEMPTIONS, RIGHTS
from accounts.models import ACCOUNTS, SOURCES
from accounts.redeem_batch import RedeemRequest, RedemptionBatcher, redeem_many
from indexer.db import make_engine
from tests.pgdb import scratch_engine

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
APP, SHOP = "bench-app", "bench-shop"
POINTS = 10_000_000  # per account: never the limit here, so refusals are stock refusals


def populate(engine: Engine, n_accounts: int) -> list[str]:
    """Sources and accounts, each credited once through ledger.post (not measured)."""
    ids = [f"acc_bench{i:021d}" for i in range(n_accounts)]
    with engine.begin() as conn:
        conn.execute(
            insert(SOURCES),
            [
                {"id": APP, "name": "Bench app", "kind": "app", "created_at": T0},
                {"id": SHOP, "name": "Bench shop", "kind": "merchant", "created_at": T0},
            ],
        )
        conn.execute(insert(ACCOUNTS), [{"id": a, "created_by": APP, "created_at": T0} for a in ids])
    for start in range(0, n_accounts, 1000):
        with engine.begin() as conn:
            for a in ids[start : start + 1000]:
                postings = [
                    ledger.Posting(f"source:{APP}", -POINTS),
                    ledger.Posting(ledger.person(a), POINTS, T0 + 86_400),
                ]
                ledger.post(conn, f"credit:{a}", "credit", a, postings, T0)
    return ids


def add_rights(engine: Engine, n: int, stock: int, label: str) -> dict[int, int]:
    """n fresh rights of `stock` units, prices 100-500 points; {right id: stock}."""
    out = {}
    for i in range(n):
        r = rights.add_right(
            engine,
            SHOP,
            name=f"{label} {i}",
            kind="coupon",
            stock=stock,
            price=100 + i % 5 * 100,
            reversal_window=0,
            now=T0,
        )
        out[r.id] = stock
    return out


def read_then_write(conn: Connection, right_id: int, now: int) -> Any:
    """The naive stock step: read, then write back the value read minus one."""
    row = conn.execute(select(RIGHTS.c.stock, RIGHTS.c.merchant_id).where(RIGHTS.c.id == right_id)).one()
    if row.stock <= 0:
        raise ConflictError(f"right {right_id} is out of stock")
    conn.execute(update(RIGHTS).where(RIGHTS.c.id == right_id).values(stock=row.stock - 1, updated_at=now))
    return row


Redeem = Callable[[Engine, str, int, str, int], object]


def shipped(engine: Engine, account: str, right_id: int, key: str, now: int) -> object:
    return rights.redeem(engine, APP, account, right_id, key, now)


def steps(take_stock: Callable[[Connection, int, int], Any]) -> Redeem:
    """The redemption statement by statement (the SQLite path), with the given stock step."""

    def redeem(engine: Engine, account: str, right_id: int, key: str, now: int) -> object:
        with engine.begin() as conn:
            return rights._redeem_steps(conn, rights._new_id(), APP, key, account, right_id, now, take_stock)

    return redeem


def one_lock(engine: Engine, account: str, right_id: int, key: str, now: int) -> object:
    """The shipped statement behind one lock held to commit: every redemption waits for the one before."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(18)"))
        return rights._redeem_pg(conn, rights._new_id(), APP, key, account, right_id, now)


MODES: list[tuple[str, Redeem]] = [
    ("one statement", shipped),
    ("statement by statement", steps(rights._take_stock)),
    ("read-then-write", steps(read_then_write)),
    ("one lock", one_lock),
]


def draw(people: list[str], stock: dict[int, int], n: int, label: str) -> list[tuple[str, int, str]]:
    """The same random (account, right, key) requests for every mode: one seed."""
    rng = random.Random(18)
    right_ids = list(stock)
    return [
        (people[rng.randrange(len(people))], right_ids[rng.randrange(len(right_ids))], f"{label}-{i}") for i in range(n)
    ]


def run_batches(
    engine: Engine, people: list[str], stock: dict[int, int], n: int, threads: int, batch: int, label: str
) -> tuple[float, int]:
    """n redemptions over `threads` threads, each handing redeem_many `batch` requests at a time."""
    work = draw(people, stock, n, label)
    chunks = [work[i::threads] for i in range(threads)]
    done = [0] * threads
    failures: list[str] = []

    def worker(k: int) -> None:
        mine = chunks[k]
        for start in range(0, len(mine), batch):
            requests = [RedeemRequest(APP, a, r, key, T0 + 60) for a, r, key in mine[start : start + batch]]
            for o in redeem_many(engine, requests):
                if isinstance(o, rights.RedemptionInfo):
                    done[k] += 1
                elif "out of stock" not in str(o):
                    failures.append(str(o))

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    spent = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{label}: {len(failures)} unexpected refusals, e.g. {failures[0]}")
    return spent, sum(done)


def run(
    engine: Engine, redeem: Redeem, people: list[str], stock: dict[int, int], n: int, threads: int, label: str
) -> tuple[float, int]:
    """n redemptions over `threads` threads; (seconds, redemptions that succeeded)."""
    work = draw(people, stock, n, label)
    chunks = [work[i::threads] for i in range(threads)]
    done = [0] * threads
    failures: list[str] = []

    def worker(k: int) -> None:
        for account, right_id, key in chunks[k]:
            try:
                redeem(engine, account, right_id, key, T0 + 60)
                done[k] += 1
            except Exception as exc:  # noqa: BLE001  # any other failure ends the run below, named
                if not (isinstance(exc, AccountsError) and "out of stock" in str(exc)):
                    failures.append(str(exc).splitlines()[0])

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    spent = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{label}: {len(failures)} unexpected refusals, e.g. {failures[0]}")
    return spent, sum(done)


def check(engine: Engine, stock: dict[int, int]) -> str:
    """Units sold vs stock per right, and debits per redemption."""
    with engine.connect() as conn:
        sold: dict[int, int] = dict(
            conn.execute(
                select(REDEMPTIONS.c.right_id, func.count())
                .where(REDEMPTIONS.c.right_id.in_(stock))
                .group_by(REDEMPTIONS.c.right_id)
            ).all()
        )
        after: dict[int, int] = {
            r.id: r.stock for r in conn.execute(select(RIGHTS.c.id, RIGHTS.c.stock).where(RIGHTS.c.id.in_(stock)))
        }
        reds = conn.execute(select(REDEMPTIONS.c.id).where(REDEMPTIONS.c.right_id.in_(stock))).scalars().all()
        debits = conn.execute(
            select(func.count(func.distinct(ENTRIES.c.txn))).where(
                ENTRIES.c.kind == "redeem", ENTRIES.c.txn.in_([f"redeem:{r}" for r in reds])
            )
        ).scalar_one()
    oversold = sum(max(0, sold.get(r, 0) - s) for r, s in stock.items())
    mismatch = sum(1 for r, s in stock.items() if s - after[r] != sold.get(r, 0))
    return (
        f"sold {sum(sold.values()):,} of {sum(stock.values()):,} units, oversold {oversold:,} units, "
        f"{mismatch} rights whose stock disagrees with their redemptions, {debits:,} debits for {len(reds):,} redemptions"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "--postgres",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://ledger:ledger@127.0.0.1:5432/ledger_test"),
    )
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--redemptions", type=int, default=10_000)
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--rights", type=int, default=200)
    p.add_argument("--stock", type=int, default=45)
    p.add_argument("--batch", type=int, default=100, help="requests per redeem_many call")
    p.add_argument("--workers", type=int, default=2, help="the batcher's batches in flight at once")
    p.add_argument(
        "--callers",
        type=int,
        nargs="*",
        help="the batcher's concurrent callers, a mode per value (default --threads; they hold no connection)",
    )
    p.add_argument("--only", nargs="*", help="run only the modes with these labels (default: all)")
    args = p.parse_args()
    with scratch_engine(args.postgres, "bench_redeem") as setup_engine:
        people = populate(setup_engine, args.accounts)
        url = setup_engine.url.render_as_string(hide_password=False)
        engine = make_engine(url, pool_size=args.threads, max_overflow=0)
        print(
            f"PostgreSQL, {args.accounts:,} accounts, {args.threads} threads, {args.redemptions:,} redemption requests "
            f"per mode over {args.rights} rights of {args.stock} units ({args.rights * args.stock:,} units):",
            flush=True,
        )
        batcher = RedemptionBatcher(engine, workers=args.workers, max_batch=args.batch)

        def batched(engine: Engine, account: str, right_id: int, key: str, now: int) -> object:
            return batcher.redeem(APP, account, right_id, key, now)

        callers = {f"batcher ({c} callers, {args.workers} workers)": c for c in args.callers or [args.threads]}
        modes: list[tuple[str, Redeem | None]] = [
            *MODES,
            *[(label, batched) for label in callers],
            (f"redeem_many ({args.batch} a call)", None),
        ]
        try:
            for label, redeem in modes:
                if args.only and not any(label.startswith(o) for o in args.only):
                    continue
                stock = add_rights(setup_engine, args.rights, args.stock, label)
                if redeem is None:
                    spent, ok = run_batches(engine, people, stock, args.redemptions, args.threads, args.batch, label)
                else:
                    spent, ok = run(
                        engine, redeem, people, stock, args.redemptions, callers.get(label, args.threads), label
                    )
                mean = ""
                if redeem is batched:
                    mean = f", {batcher.carried / batcher.batches:.1f} a transaction"
                    batcher.batches = batcher.carried = 0
                print(
                    f"  {label:<16} {args.redemptions:,} requests in {spent:.2f} s: {args.redemptions / spent:,.0f} requests/s, "
                    f"{ok / spent:,.0f} redemptions/s{mean}; {check(setup_engine, stock)}",
                    flush=True,
                )
        finally:
            batcher.close()
            engine.dispose()


if __name__ == "__main__":
    main()
