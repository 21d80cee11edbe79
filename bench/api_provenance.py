"""GET /api/v1/provenance/retirements/{id} for a retirement that consumed 50 serial ranges passed
through 20 hands, over HTTP to one uvicorn worker, requests from a second process.

    .venv/bin/python bench/api_provenance.py [--seconds 5] [--runs 3] [--ranges 50] [--hands 20]

The retirement (not measured): the registry of bench/api_verify.py, then 20 new holders; the
project owner sends the first holder --ranges lots of 10 kg, each followed by 1 kg to another
participant so no two lots touch; each holder passes everything to the next in two partial
transfers; the last one retires it all, consuming --ranges serial ranges, each with its issue, its
22 moves through the hands, and its retirement. Mirrored into SQLite by the indexer.

Timed: one keep-alive connection from another process, GETs back to back for --seconds (after a
1 s warm-up), p50 and p99; median over --runs runs. Naive baseline, same server, same run: a
route that reads the same answer with one SQL query per serial range and one per move.

Target (issue 5): p50 <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_verify import build_registry, load_from_another_process, summary

PIECE, FILLER = 10, 1


def install_naive(app: Any) -> None:
    """The baseline as a route of the same app: one query per range, one per move (SQLAlchemy)."""
    from sqlalchemy import select

    from indexer.models import Lot, LotMove, Retirement

    @app.get("/naive/provenance/retirements/{retirement_id}", include_in_schema=False)
    def naive(retirement_id: str) -> dict[str, Any]:
        with app.state.context.engine.connect() as conn:
            row = conn.execute(select(Retirement).where(Retirement.id == retirement_id)).first()
            ranges = conn.execute(
                select(Lot.first_serial, Lot.last_serial)
                .where(Lot.retirement_id == retirement_id)
                .order_by(Lot.first_serial)
            ).all()
            custody = []
            for first, last in ranges:
                keys = conn.execute(
                    select(LotMove.block_number, LotMove.log_index, LotMove.part)
                    .where(LotMove.batch_id == row.batch_id, LotMove.first_serial <= last, LotMove.last_serial >= first)
                    .order_by(LotMove.block_number, LotMove.log_index, LotMove.part)
                ).all()
                moves = []
                for b, i, p in keys:
                    m = conn.execute(
                        select(LotMove).where(LotMove.block_number == b, LotMove.log_index == i, LotMove.part == p)
                    ).one()
                    moves.append(
                        {
                            "kind": m.kind,
                            "from_holder": m.from_holder,
                            "to_holder": m.to_holder,
                            "first_serial": m.first_serial,
                            "last_serial": m.last_serial,
                            "tx_hash": m.tx_hash,
                            "block_number": m.block_number,
                            "log_index": m.log_index,
                        }
                    )
                custody.append(
                    {"first_serial": first, "last_serial": last, "amount_kg": last - first + 1, "moves": moves}
                )
        return {"retirement": dict(row._mapping), "serial_ranges": custody}


def build_retirement(certified: Any, ranges: int, hands: int) -> str:
    from eth_account import Account

    from chain.opids import random_op_id
    from chain.types import ParticipantKind, Scenario

    w = certified.world
    c, cast, batch = w.client, w.cast, w.batch_id
    holders = [Account.create() for _ in range(hands)]
    for h in holders:
        c.rpc.call("anvil_setBalance", h.address, hex(10**21))
        c.register_participant(random_op_id(), h.address, ParticipantKind.ENTERPRISE, b"\x42" * 32)
    for _ in range(ranges):  # fragments: no two of the first holder's lots touch
        c.transfer(cast.owner.address, holders[0].address, batch, PIECE, sender=cast.owner)
        c.transfer(cast.owner.address, cast.buyer.address, batch, FILLER, sender=cast.owner)
    total = ranges * PIECE
    first_part = (ranges // 2) * PIECE  # partial transfers along whole lots
    for a, b in zip(holders, holders[1:]):
        c.transfer(a.address, b.address, batch, first_part, sender=a)
        c.transfer(a.address, b.address, batch, total - first_part, sender=a)
    result = c.retire(random_op_id(), batch, total, Scenario.VOLUNTARY, b"\x07" * 32, b"\0" * 32, sender=holders[-1])
    certified.service.catch_up(result.block_number)
    event = result.event("CreditsRetired")
    return f"{c.chain_id}-{event.tx_hash}-{event.log_index}"


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ranges", type=int, default=50)
    parser.add_argument("--hands", type=int, default=20)
    args = parser.parse_args()

    from tests.api.server import serve_process

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        node, certified, deployment, url = build_registry(Path(tmp), 6)
        try:
            rid = build_retirement(certified, args.ranges, args.hands)
            with serve_process(
                url,
                deployment,
                rpc_url=node.url,
                plugin="api_provenance:install_naive",
                env={"PYTHONPATH": str(ROOT / "bench")},
            ) as base:
                answer = fetch(f"{base}/api/v1/provenance/retirements/{rid}")
                naive_answer = fetch(f"{base}/naive/provenance/retirements/{rid}")
                n_ranges = len(answer["serial_ranges"])
                moves = [len(s["moves"]) for s in answer["serial_ranges"]]
                hands = {m["to_holder"] for s in answer["serial_ranges"] for m in s["moves"] if m["kind"] == "transfer"}
                assert [s["moves"] for s in answer["serial_ranges"]] == [
                    s["moves"] for s in naive_answer["serial_ranges"]
                ]
                size = len(json.dumps(answer))
                print(
                    f"retirement {rid[:24]}…: {n_ranges} serial ranges, {sum(moves):,} moves "
                    f"({min(moves)}–{max(moves)} a range) through {len(hands)} hands; answer {size:,} bytes; "
                    f"set up in {time.perf_counter() - t0:.0f} s"
                )
                results = []
                for run in range(args.runs):
                    r = load_from_another_process(
                        base,
                        [{"method": "GET", "path": f"/api/v1/provenance/retirements/{rid}"}],
                        seconds=args.seconds,
                        connections=1,
                        expect='"serial_ranges"',
                    )
                    results.append(r)
                    print(summary(f"the API, run {run + 1}", r))
                naive = load_from_another_process(
                    base,
                    [{"method": "GET", "path": f"/naive/provenance/retirements/{rid}"}],
                    seconds=args.seconds,
                    connections=1,
                    expect='"serial_ranges"',
                )
                print(summary("naive: a query per range and move", naive))
        finally:
            node.__exit__(None, None, None)
    p50 = statistics.median(r["p50_ms"] for r in results)
    p99 = statistics.median(r["p99_ms"] for r in results)
    print(
        f"median of {len(results)} runs: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"(naive baseline p50 {naive['p50_ms']:.1f} ms, p99 {naive['p99_ms']:.1f} ms)"
    )
    print(f"target p50 <= 20 ms: {'met' if p50 <= 20 and n_ranges == args.ranges else 'NOT met'}")


if __name__ == "__main__":
    main()
