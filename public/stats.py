"""Statistics of the registry (the dashboard): issued, retired, cancelled and in reserve by
ecosystem, county and vintage; retired by scenario; issuance and retirement over the chain's
blocks. Aggregate queries over the mirror, remembered per state of the mirror.

The remembered answer is keyed by the indexer's sync cursors (block number and hash of every
followed contract) and the highest block of each history table: indexing a block moves a cursor,
and a reorganisation rolls a cursor back to the common ancestor and forward to a tip with
another hash, so an answer never outlives the rows it was computed from."""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, func, select

from indexer.models import Block, SyncCursor
from public.lists import B, C, M, P, R, _table

TIME_BUCKETS = 12
BREAKDOWNS = {
    "ecosystem": "生态系统 Ecosystem",
    "county": "县 County",
    "vintage": "年份 Vintage",
    "scenario": "注销场景 Retirement scenario",
    "blocks": "区块区间 Blocks (over time)",
}
_CACHE_SIZE = 8


@dataclass(frozen=True)
class Bucket:
    key: str
    issued_kg: int | None
    retired_kg: int
    cancelled_kg: int | None
    reserve_kg: int | None


@dataclass(frozen=True)
class Statistics:
    tip_block: int
    totals: Bucket
    by: dict[str, list[Bucket]]  # BREAKDOWNS' keys; "blocks" is issuance and retirement over time

    def csv(self, breakdown: str) -> str:
        """One breakdown as CSV (the numbers beside each chart, downloadable)."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        names = [f.name for f in fields(Bucket)]
        w.writerow([breakdown if n == "key" else n for n in names])
        for b in self.by[breakdown]:
            w.writerow(["" if getattr(b, n) is None else getattr(b, n) for n in names])
        return out.getvalue()


def _state(conn: Connection) -> tuple[Any, ...]:
    """What the cached answer depends on: cheap index look-ups, no scan."""
    s = _table(SyncCursor)
    cursors = tuple(tuple(r) for r in conn.execute(select(s.c.address, s.c.block_number, s.c.block_hash)))
    highs = conn.execute(
        select(
            select(func.max(R.c.block_number)).scalar_subquery(),
            select(func.max(C.c.block_number)).scalar_subquery(),
            select(func.max(B.c.id)).scalar_subquery(),
        )
    ).one()
    return (str(conn.engine.url), cursors, tuple(highs))


_cache: dict[tuple[Any, ...], Statistics] = {}
_lock = threading.Lock()


def statistics(conn: Connection) -> Statistics:
    key = _state(conn)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    computed = compute(conn)
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = computed
    return computed


def _supply_by(conn: Connection, column: Any) -> list[Bucket]:
    q = (
        select(
            column.label("k"),
            func.sum(B.c.issued),
            func.sum(B.c.retired),
            func.sum(B.c.cancelled),
            func.sum(B.c.reserve_amount),
        )
        .select_from(B.outerjoin(P, P.c.id == B.c.project_id).outerjoin(M, M.c.id == P.c.methodology_id))
        .group_by(column)
        .order_by(column)
    )
    return [
        Bucket("unknown" if k is None else str(k), int(i or 0), int(r or 0), int(c or 0), int(v or 0))
        for k, i, r, c, v in conn.execute(q)
    ]


@dataclass
class _Final:
    """Sums of the retirements in final blocks (at or below `block`), which no reorganisation can
    change: the indexer keeps undoable only the blocks of its window (indexer/models.py `Block`)
    and stops on a deeper reorganisation. `last_id` is the last of those retirements, checked
    again before reuse, so a mirror rebuilt from another chain is not summed with the old one."""

    block: int
    last_id: str | None
    scenario: dict[str, int]
    fine: dict[int, int]  # block // FINE -> kg retired


FINE = 1024  # blocks per fine interval; the chart's intervals are whole multiples of it
_finals: dict[str, _Final] = {}


def _last_retirement(conn: Connection, block: int) -> str | None:
    q = select(R.c.id).where(R.c.block_number <= block).order_by(R.c.block_number.desc(), R.c.log_index.desc()).limit(1)
    found = conn.execute(q).scalar()
    return None if found is None else str(found)


def _retired_between(conn: Connection, low: int, high: int | None) -> tuple[dict[str, int], dict[int, int]]:
    """kg retired by scenario and by fine interval, in blocks low < b <= high (no upper bound: None):
    one pass over the index on (block_number, log_index, scenario, amount), never the table."""
    where = [R.c.block_number > low] + ([R.c.block_number <= high] if high is not None else [])
    fine_key = R.c.block_number // FINE  # integer division on both databases
    scenario: dict[str, int] = {}
    fine: dict[int, int] = {}
    q = select(R.c.scenario, fine_key, func.sum(R.c.amount)).where(*where).group_by(R.c.scenario, fine_key)
    for k, f, v in conn.execute(q):
        scenario[str(k)] = scenario.get(str(k), 0) + int(v or 0)
        fine[int(f)] = fine.get(int(f), 0) + int(v or 0)
    return scenario, fine


def _add(into: dict[Any, int], more: dict[Any, int]) -> dict[Any, int]:
    out = dict(into)
    for k, v in more.items():
        out[k] = out.get(k, 0) + v
    return out


def _retired(conn: Connection, tip: int) -> tuple[dict[str, int], dict[int, int]]:
    """kg retired by scenario and by fine interval: the final prefix remembered, extended as
    blocks become final, plus the unfinalised tail summed on every call."""
    blocks = _table(Block)
    oldest = conn.execute(select(func.min(blocks.c.number))).scalar()
    final = tip if oldest is None else int(oldest) - 1
    key = str(conn.engine.url)
    with _lock:
        known = _finals.get(key)
    if known is not None and (known.block > final or _last_retirement(conn, known.block) != known.last_id):
        known = None  # the mirror was rebuilt or rolled back below what was final: start again
    if known is None:
        known = _Final(-1, None, {}, {})
    if final > known.block:
        scenario, fine = _retired_between(conn, known.block, final)
        known = _Final(final, _last_retirement(conn, final), _add(known.scenario, scenario), _add(known.fine, fine))
        with _lock:
            _finals[key] = known
    scenario, fine = _retired_between(conn, known.block, None)
    return _add(known.scenario, scenario), _add(known.fine, fine)


def compute(conn: Connection) -> Statistics:
    by = {
        "ecosystem": _supply_by(conn, M.c.ecosystem),
        "county": _supply_by(conn, P.c.county_code),
        "vintage": _supply_by(conn, B.c.vintage),
    }
    total = conn.execute(
        select(
            func.coalesce(func.sum(B.c.issued), 0),
            func.coalesce(func.sum(B.c.retired), 0),
            func.coalesce(func.sum(B.c.cancelled), 0),
            func.coalesce(func.sum(B.c.reserve_amount), 0),
        )
    ).one()
    s = _table(SyncCursor)
    tip = max(
        int(conn.execute(select(func.max(s.c.block_number))).scalar() or 0),
        int(conn.execute(select(func.max(R.c.block_number))).scalar() or 0),
        int(conn.execute(select(func.max(B.c.block_number))).scalar() or 0),
    )
    scenario, fine = _retired(conn, tip)
    by["scenario"] = [Bucket(k, None, v, None, None) for k, v in sorted(scenario.items())]
    by["blocks"] = _over_blocks(conn, tip, fine)
    return Statistics(tip, Bucket("total", *(int(x) for x in total)), by)


def _over_blocks(conn: Connection, tip: int, fine: dict[int, int]) -> list[Bucket]:
    """Issued and retired per block interval: the mirror keeps no block times, so the chain's
    own clock, its block numbers, is the time axis: at most 12 equal intervals from block 0 to
    the tip, each a whole number of fine intervals."""
    fines = tip // FINE + 1
    per = -(-fines // TIME_BUCKETS)  # fine intervals per chart interval, rounded up
    width = per * FINE
    issued: dict[int, int] = {}
    bucket = B.c.block_number // width
    for k, v in conn.execute(select(bucket, func.sum(B.c.issued)).group_by(bucket)):
        issued[int(k)] = int(v or 0)
    retired: dict[int, int] = {}
    for k, v in fine.items():
        retired[k // per] = retired.get(k // per, 0) + v
    return [
        Bucket(f"{i * width}–{min((i + 1) * width - 1, tip)}", issued.get(i, 0), retired.get(i, 0), None, None)
        for i in range(TIME_BUCKETS)
        if i * width <= tip
    ]
