"""The overlap check at scale (issue 15): a new project of 1,000 parcels against 1,000,000 live
parcels, by the in-process STRtree (SQLite path) and by PostGIS's GiST index, against a pairwise
check on a sample, extrapolated (and labelled so).

The land: a 1,000 × 1,000 grid of 50 m × 50 m parcels with 10 m lanes (a 60 km square near Ya'an,
103.0°E 30.0°N), each stored as land/store.py stores it (canonical GeoJSON, geodesic area, box).
The new project: 1,000 parcels of 30 m × 30 m at random places in that square, so nearly every one
overlaps 1-4 live parcels and each overlap is cut and measured: the worst case for the check.

    .venv/bin/python bench/land_overlap.py [--n 1000000] [--new 1000] [--repeat 5] [--postgres URL]

The STRtree is built once and kept in the process (as an API worker would keep it); its build time
and the time to read the rows from SQLite are reported apart from the query time. PostgreSQL rows
are loaded with COPY, then the GiST index is built; both times are reported.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import shapely
from sqlalchemy import insert, text

from certificates.db import create_schema
from indexer.db import make_engine
from land import postgis
from land.geometry import make_parcel
from land.overlap import StrtreeIndex
from land.store import T, live_parcels
from tests.pgdb import scratch_engine

LON0, LAT0 = 103.0, 30.0
M_LON, M_LAT = 1 / 96_486.0, 1 / 110_852.0  # degrees per metre near 30°N (grid layout only; areas are geodesic)
CELL, SIDE = 60.0, 50.0


def grid_rows(n: int) -> list[dict[str, object]]:
    """n parcels on a square grid, as land_parcels rows (canonical GeoJSON text: CCW from the SW corner)."""
    per_side = int(np.ceil(np.sqrt(n)))
    areas: dict[int, float] = {}
    rows = []
    for k in range(n):
        i, j = divmod(k, per_side)
        x0 = round(LON0 + j * CELL * M_LON, 7)
        x1 = round(LON0 + (j * CELL + SIDE) * M_LON, 7)
        y0 = round(LAT0 + i * CELL * M_LAT, 7)
        y1 = round(LAT0 + (i * CELL + SIDE) * M_LAT, 7)
        geometry = (
            f'{{"type":"MultiPolygon","coordinates":[[[[{x0!r},{y0!r}],[{x1!r},{y0!r}],'
            f"[{x1!r},{y1!r}],[{x0!r},{y1!r}],[{x0!r},{y0!r}]]]]}}"
        )
        if i not in areas:  # one row of the grid shares a latitude band: measure it once
            areas[i] = make_parcel(
                "r", {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]}
            ).area_m2
        rows.append(
            {
                "project_id": f"P-{k // 1000:04}",  # 1,000 projects of 1,000 parcels
                "parcel_id": f"G-{k:07}",
                "parcel_hash": hashlib.sha256(geometry.encode()).hexdigest(),  # bench rows: not the on-chain hash
                "geometry": geometry,
                "area_m2": areas[i],
                "min_lon": x0,
                "min_lat": y0,
                "max_lon": x1,
                "max_lat": y1,
            }
        )
    return rows


def new_project(count: int, n: int, seed: int = 15) -> list:  # type: ignore[type-arg]  # list of Parcel
    rng = random.Random(seed)
    span = np.sqrt(n) * CELL - 30
    out = []
    for k in range(count):
        e, m = rng.uniform(0, span), rng.uniform(0, span)
        x0, y0 = LON0 + e * M_LON, LAT0 + m * M_LAT
        x1, y1 = x0 + 30 * M_LON, y0 + 30 * M_LAT
        out.append(
            make_parcel(f"NEW-{k:04}", {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]})
        )
    return out


def timed(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--new", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sample", type=int, default=2_000, help="live parcels in the pairwise sample")
    ap.add_argument("--postgres", help="a PostgreSQL URL whose server has PostGIS (a database is made and dropped)")
    a = ap.parse_args()

    t = time.perf_counter()
    rows = grid_rows(a.n)
    new = new_project(a.new, a.n)
    print(f"generated {a.n:,} live parcels and {a.new:,} new ones in {time.perf_counter() - t:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/land.sqlite")
        create_schema(engine)
        t = time.perf_counter()
        with engine.begin() as conn:
            for start in range(0, len(rows), 50_000):
                conn.execute(insert(T), rows[start : start + 50_000])
        print(f"SQLite: {a.n:,} rows inserted in {time.perf_counter() - t:.1f} s")
        with engine.connect() as conn:
            t = time.perf_counter()
            live = live_parcels(conn)
            read = time.perf_counter() - t
        t = time.perf_counter()
        index = StrtreeIndex(live)
        build = time.perf_counter() - t
        print(f"SQLite: read {len(live):,} live parcels in {read:.1f} s; STRtree built in {build:.1f} s (once, kept)")
        tree_s, found = timed(lambda: index.conflicts(new, "P-NEW"), a.repeat)
        tree_answer = [c.key() for c in found]  # type: ignore[attr-defined]
        print(
            f"STRtree query: {a.new:,} new parcels vs {a.n:,}: median {tree_s * 1000:.0f} ms over {a.repeat} runs, "
            f"{len(tree_answer):,} conflicts (index build NOT included)"
        )
        engine.dispose()

    # pairwise: every new parcel against every live one, vectorised; timed on a sample, extrapolated
    sample = np.array([p.shape for p in random.Random(1).sample(live, a.sample)])
    new_shapes = np.array([p.shape for p in new])
    t = time.perf_counter()
    shapely.intersects(new_shapes[:, None], sample[None, :])
    pair_s = (time.perf_counter() - t) / (a.new * a.sample)
    naive = pair_s * a.new * a.n
    print(
        f"pairwise (EXTRAPOLATED from {a.new:,} × {a.sample:,} pairs): {pair_s * 1e9:.0f} ns a pair → "
        f"{naive:.0f} s for {a.new:,} × {a.n:,}; ratio pairwise / STRtree = {naive / tree_s:,.0f}×"
    )

    if a.postgres:
        bench_postgis(a, rows, new, tree_answer, naive)


def bench_postgis(
    a: argparse.Namespace, rows: list[dict[str, object]], new: list, tree_answer: list, naive: float
) -> None:  # type: ignore[type-arg]
    with scratch_engine(a.postgres, "ledger_land_bench") as engine:
        columns = [
            "project_id",
            "parcel_id",
            "parcel_hash",
            "geometry",
            "area_m2",
            "min_lon",
            "min_lat",
            "max_lon",
            "max_lat",
        ]
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX IF EXISTS land_parcels_geom"))  # built after the load: faster
        t = time.perf_counter()
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY land_parcels ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for r in rows:
                    copy.write_row([r[c] for c in columns])
            raw.commit()
        finally:
            raw.close()
        load = time.perf_counter() - t
        t = time.perf_counter()
        with engine.begin() as conn:
            postgis.ensure_index(conn)
            conn.execute(text("ANALYZE land_parcels"))
        gist = time.perf_counter() - t
        print(f"PostGIS: {len(rows):,} rows loaded by COPY in {load:.1f} s; GiST index built in {gist:.1f} s")
        with engine.connect() as conn:
            pg_s, found = timed(lambda: postgis.conflicts(conn, new, "P-NEW"), a.repeat)
        answer = [c.key() for c in found]  # type: ignore[attr-defined]
        same = (
            "the same conflicts as the STRtree"
            if answer == tree_answer
            else f"DIFFERENT: {len(answer)} vs {len(tree_answer)}"
        )
        print(
            f"PostGIS query: median {pg_s * 1000:.0f} ms over {a.repeat} runs, {len(answer):,} conflicts, {same}; "
            f"ratio pairwise / PostGIS = {naive / pg_s:,.0f}×"
        )


if __name__ == "__main__":
    main()
