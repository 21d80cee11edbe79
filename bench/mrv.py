"""`mrv.compute` on a monitoring report of 10,000 plots and 1,000,000 trees, against a plain
per-row Python loop computing the same figures in the same run (medians, timed in turns; the two
results must agree to the kilogram). Loading the same report from its CSV file is timed once.

    .venv/bin/python bench/mrv.py --plots 10000 --trees 1000000 --runs 7
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mrv
from mrv.compute import StratumSums, settle
from mrv.report import MonitoringReport, Stratum

GROUPS = ["cupressus", "picea", "abies", "pinus_massoniana", "quercus"]
T1, T2 = date(2020, 6, 1).toordinal(), date(2024, 6, 1).toordinal()


def synthetic(plots: int, trees: int, strata: int = 20, seed: int = 7) -> MonitoringReport:
    """A forest report: plots of 600 m² in `strata` strata, each measured twice, half its trees at
    each visit, trees larger at the second; every tenth plot gives a measured volume instead."""
    rng = np.random.default_rng(seed)
    plot_stratum = np.sort(rng.integers(0, strata, plots))
    visit_plot = np.repeat(np.arange(plots), 2)
    visit_day = np.tile([T1, T2], plots)
    given = np.full(2 * plots, np.nan)
    measured = visit_plot % 10 == 0
    given[measured] = np.where(visit_day[measured] == T1, 40.0, 55.0) + rng.integers(0, 2000, measured.sum()) / 100
    tree_visit = np.sort(rng.choice(np.flatnonzero(~measured), trees))  # none where the volume is given
    second = visit_day[tree_visit] == T2
    dbh = np.round(rng.uniform(5, 35, len(tree_visit)) + second * 2.5, 1)
    height = np.round(rng.uniform(4, 22, len(tree_visit)) + second * 1.5, 1)
    records = tuple(
        Stratum(
            f"S{k:03d}",
            float(rng.integers(50, 500)),
            GROUPS[k % len(GROUPS)],
            date(2020, 1, 1),
            date(2039, 12, 31),
            0.0,
            k + 2,
        )
        for k in range(strata)
    )
    lines = np.arange(len(tree_visit), dtype=np.int64)
    return MonitoringReport(
        file="synthetic.csv",
        sha256="0" * 64,
        project="P-BENCH",
        methodology="SCFM-001-V01@1",
        monitoring_start=date(2020, 1, 1),
        monitoring_end=date(2024, 12, 31),
        line=2,
        strata=records,
        plot_ids=tuple(f"p{k}" for k in range(plots)),
        plot_stratum=plot_stratum.astype(np.int64),
        plot_area_m2=np.full(plots, 600.0),
        plot_line=np.arange(plots, dtype=np.int64),
        visit_plot=visit_plot.astype(np.int64),
        visit_day=visit_day.astype(np.int64),
        visit_line=np.arange(2 * plots, dtype=np.int64),
        visit_values={"volume_m3_ha": given},
        visit_value_line={"volume_m3_ha": 1},
        tree_visit=tree_visit.astype(np.int64),
        tree_dbh_cm=dbh,
        tree_height_m=height,
        tree_line=lines,
        emissions=(),
    )


def loop(report: MonitoringReport, bundle: mrv.Bundle) -> mrv.Result:
    """The same figures row by row in plain Python, ending in the same few per-stratum lines
    (settle). Turning the arrays into lists is inside the timing: a loop-based loader would have
    built lists instead, so this is a little unfair to the loop, by less than a tenth of its time."""
    strata = [s.species_group for s in report.strata]
    plot_stratum = report.plot_stratum.tolist()
    area = report.plot_area_m2.tolist()
    visit_plot = report.visit_plot.tolist()
    visit_day = report.visit_day.tolist()
    given = report.visit_values["volume_m3_ha"].tolist()
    factor = [bundle.tree_volume_factor(g) for g in strata]
    per_visit = [0] * len(visit_plot)
    for v, d, h in zip(report.tree_visit.tolist(), report.tree_dbh_cm.tolist(), report.tree_height_m.tolist()):
        k = factor[plot_stratum[visit_plot[v]]]
        per_visit[v] += round(k * d * d * h * 1e6)
    visits: dict[int, list[tuple[int, int]]] = {}
    for v, p in enumerate(visit_plot):
        g = given[v]
        milli = round(per_visit[v] * 10 / area[p]) if math.isnan(g) else round(g * 1000)
        visits.setdefault(p, []).append((visit_day[v], milli))
    n = [0] * len(strata)
    t1, t2, d1, dd = [0] * len(strata), [0] * len(strata), [0] * len(strata), [0] * len(strata)
    for p, pair in visits.items():
        (_, a), (_, b) = sorted(pair)
        s = plot_stratum[p]
        n[s] += 1
        t1[s] += a
        t2[s] += b
        d1[s] += b - a
        dd[s] += (b - a) * (b - a)
    v = "volume_m3_ha"
    sums = [StratumSums(n[s], {v: t1[s]}, {v: t2[s]}, {v: d1[s]}, {(v, v): dd[s]}) for s in range(len(strata))]
    return settle(report, bundle, sums)


def write_csv(report: MonitoringReport, path: Path) -> None:
    with path.open("w") as f:
        f.write(
            "[report]\nproject,methodology,monitoring_start,monitoring_end\nP-BENCH,SCFM-001-V01@1,2020-01-01,2024-12-31\n"
        )
        f.write("[strata]\nid,area_ha,species_group,crediting_start,crediting_end\n")
        f.writelines(f"{s.id},{s.area_ha:g},{s.species_group},2020-01-01,2039-12-31\n" for s in report.strata)
        f.write("[plots]\nid,stratum,area_m2\n")
        f.writelines(f"{p},{report.strata[s].id},600\n" for p, s in zip(report.plot_ids, report.plot_stratum.tolist()))
        f.write("[visits]\nplot,date,volume_m3_ha\n")
        given = report.visit_values["volume_m3_ha"].tolist()
        for p, d, g in zip(report.visit_plot.tolist(), report.visit_day.tolist(), given):
            f.write(f"{report.plot_ids[p]},{date.fromordinal(d)},{'' if g != g else g}\n")
        f.write("[trees]\nplot,date,dbh_cm,height_m\n")
        plot_of = report.visit_plot.tolist()
        day_of = [date.fromordinal(d).isoformat() for d in report.visit_day.tolist()]
        f.writelines(
            f"{report.plot_ids[plot_of[v]]},{day_of[v]},{d},{h}\n"
            for v, d, h in zip(report.tree_visit.tolist(), report.tree_dbh_cm.tolist(), report.tree_height_m.tolist())
        )


def interleaved(
    fast: Callable[[], mrv.Result], slow: Callable[[], mrv.Result], rounds: int
) -> tuple[float, float, mrv.Result, mrv.Result]:
    """Medians of both, timed in turns (three fast runs, then one slow, per round) so that both
    see the same load on a shared machine."""
    fast_times: list[float] = []
    slow_times: list[float] = []
    for _ in range(rounds):
        for _ in range(3):
            start = time.perf_counter()
            a = fast()
            fast_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        b = slow()
        slow_times.append(time.perf_counter() - start)
    return statistics.median(fast_times), statistics.median(slow_times), a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plots", type=int, default=10_000)
    parser.add_argument("--trees", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="rounds: three vectorised runs and one loop each")
    parser.add_argument("--no-load", action="store_true", help="skip timing the CSV load")
    args = parser.parse_args()
    bundle = mrv.bundle("SCFM-001-V01", 1)
    report = synthetic(args.plots, args.trees)
    print(f"report: {len(report.plot_ids):,} plots, {len(report.visit_plot):,} visits, {len(report.tree_line):,} trees")
    mrv.compute(report, bundle)  # warm up
    fast, slow, vectorised, looped = interleaved(
        lambda: mrv.compute(report, bundle), lambda: loop(report, bundle), args.runs
    )
    agree = vectorised.figures() == looped.figures()
    n = args.runs
    print(
        f"mrv.compute (numpy, checks included)  median of {3 * n}: {fast * 1000:8.1f} ms  <= 1,000 ms {'ok' if fast <= 1 else 'OVER'}"
    )
    print(
        f"plain per-row Python loop             median of {n}: {slow * 1000:8.1f} ms  (timed in turns with the above)"
    )
    print(
        f"speed-up {slow / fast:.1f}x  >= 20x {'ok' if slow / fast >= 20 else 'UNDER'}; results agree to the kilogram: {agree}"
    )
    print(
        f"issued {vectorised.quantity_kg:,} kg, reserve {vectorised.reserve_kg:,}, issuable {vectorised.issuable_kg:,}, half-width {vectorised.halfwidth_bps} bps"
    )
    if not args.no_load:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "report.csv"
            write_csv(report, path)
            start = time.perf_counter()
            loaded = mrv.load_report(path)
            took = time.perf_counter() - start
            same = mrv.compute(loaded, bundle).figures() == vectorised.figures()
            print(
                f"load_report of its CSV ({path.stat().st_size / 1e6:.0f} MB, once): {took:.2f} s; same figures: {same}"
            )
    if not agree:
        raise SystemExit("the vectorised and the loop results differ")


if __name__ == "__main__":
    main()
