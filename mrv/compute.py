"""From a checked report and a methodology version to the kilograms a batch may issue.

Measurements are turned into exact integers first: a tree's stem volume into whole cm³, a plot's
value per hectare into thousandths of its unit. Every sum over trees or plots is then an integer
sum, the same in any order, so a shuffled report gives the same result to the kilogram; floats
appear only per stratum, taken in stratum-id order. The rounding rule (docs/mrv.md): every
figure is rounded down to a whole kilogram once, from unrounded values; what is issued is
floor(net × (1 − deduction)) in integers, the reserve is the contract's own integer division of it."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np

from chain.canonical import CanonicalJsonError, canonical_json, sha256_hex
from mrv.check import check
from mrv.errors import ReportError, ReportErrors
from mrv.methodology import Bundle
from mrv.report import LIMIT, Ints, MonitoringReport

RESULT_FORMAT = "ledger-mrv-result/1"
BPS = 10_000


@dataclass(frozen=True)
class StratumSums:
    """A stratum's plot sums in thousandths of each variable's unit (exact Python integers)."""

    n: int
    t1: dict[str, int]  # Σ x(t1)
    t2: dict[str, int]  # Σ x(t2)
    d: dict[str, int]  # Σ (x(t2) − x(t1))
    dd: dict[tuple[str, str], int]  # Σ Δx_v × Δx_w


def visit_milli(report: MonitoringReport, bundle: Bundle) -> dict[str, Ints]:
    """Each variable per visit in thousandths of its unit; a forest visit without a measured volume
    takes the volume of its trees (0 when it has none)."""
    out = {}
    for name in bundle.variables:
        given = report.visit_values.get(name, np.full(len(report.visit_plot), np.nan))
        out[name] = np.rint(np.nan_to_num(given) * 1000).astype(np.int64)
        if bundle.trees and name == "volume_m3_ha":
            group_k = np.array([bundle.tree_volume_factor(s.species_group) for s in report.strata])
            visit_k = group_k[report.plot_stratum[report.visit_plot]]
            cm3 = visit_k[report.tree_visit]  # in place from here: ((k × dbh) × dbh) × h × 10^6, as a loop would
            cm3 *= report.tree_dbh_cm
            cm3 *= report.tree_dbh_cm
            cm3 *= report.tree_height_m
            cm3 *= 1e6
            np.rint(cm3, out=cm3)
            # whole cm³ summed as float64 stay exact below 2^53 (9 × 10^9 m³ in one visit)
            per_visit = np.bincount(report.tree_visit, weights=cm3, minlength=len(report.visit_plot))
            counted = np.isnan(given)
            area = report.plot_area_m2[report.visit_plot]
            # 1 cm³ per m² of plot = 0.01 m³/ha = 10 thousandths of a m³/ha
            per_ha = per_visit * 10 / np.where(counted, area, 1.0)
            # the trees' volume meets the same limit as a measured one: past it a plot's area is in the
            # wrong unit, and the squares of the changes overflowed int64, silently dropping the deduction
            limit = bundle.variables[name].maximum * 1000
            over = np.flatnonzero(counted & (per_ha > limit))
            if len(over):
                raise ReportErrors(
                    [
                        ReportError(
                            report.file,
                            int(report.plot_line[report.visit_plot[k]]),
                            f"the trees of plot {report.plot_ids[report.visit_plot[k]]} on "
                            f"{date.fromordinal(int(report.visit_day[k]))} give {per_ha[k] / 1000:,.0f} m³/ha, "
                            f"above {limit / 1000:,.0f}; check its area_m2 (square metres) and the trees' units",
                        )
                        for k in over[:LIMIT]
                    ]
                )
            out[name] = np.where(counted, np.rint(per_ha).astype(np.int64), out[name])
    return out


def stratum_sums(report: MonitoringReport, bundle: Bundle) -> list[StratumSums]:
    """The vectorised part: trees to visits, visits to paired plot changes, plots to strata."""
    values = visit_milli(report, bundle)
    order = np.lexsort((report.visit_day, report.visit_plot))  # each plot's two visits, earlier first
    first, second = order[0::2], order[1::2]
    stratum = report.plot_stratum[report.visit_plot[first]]
    names = list(bundle.variables)
    x1 = {v: values[v][first] for v in names}
    x2 = {v: values[v][second] for v in names}
    delta = {v: x2[v] - x1[v] for v in names}
    sums = []
    for k in range(len(report.strata)):
        mask = stratum == k
        dv = {v: delta[v][mask] for v in names}
        sums.append(
            StratumSums(
                n=int(mask.sum()),
                t1={v: int(x1[v][mask].sum()) for v in names},
                t2={v: int(x2[v][mask].sum()) for v in names},
                d={v: int(dv[v].sum()) for v in names},
                dd={(v, w): int((dv[v] * dv[w]).sum()) for v in names for w in names},
            )
        )
    return sums


@dataclass(frozen=True)
class PoolFigures:
    pool: str
    stock_t1_kg: int
    stock_t2_kg: int
    change_kg: int


@dataclass(frozen=True)
class StratumFigures:
    id: str
    species_group: str
    plots: int
    pools: tuple[PoolFigures, ...]
    change_kg: int
    baseline_kg: int
    leakage_kg: int
    emissions_kg: int
    net_kg: int
    halfwidth_bps: int | None  # of this stratum's change alone; None when it did not grow
    deduction_kg: int
    reserve_kg: int
    issuable_kg: int


@dataclass(frozen=True)
class Result:
    report_sha256: str
    project: str
    monitoring_start: str
    monitoring_end: str
    methodology_id: str
    methodology_version: int
    methodology_sha256: str
    strata: tuple[StratumFigures, ...]
    stock_t1_kg: int
    stock_t2_kg: int
    change_kg: int
    baseline_kg: int
    leakage_kg: int
    emissions_kg: int
    net_kg: int  # the gross reduction, floor(Σ strata's net); negative after a loss
    halfwidth_bps: int | None  # 90 % CI half-width of the project's change, rounded up
    threshold_bps: int
    deduction_bps: int
    deduction_kg: int
    quantity_kg: int  # what is issued: to the owner and the reserve together
    reserve_bps: int
    reserve_kg: int
    issuable_kg: int  # to the owner, tradable
    reversal_kg: int  # a loss to cancel from the reserve (reason Reversal), 0 unless net < 0
    illustrative: tuple[str, ...]  # parameters and rules used that cite no public source

    def figures(self) -> dict[str, Any]:
        """The breakdown without what binds it (what a shuffled report must reproduce)."""
        doc = self.document()
        return {k: v for k, v in doc.items() if k not in ("report", "methodology", "format")}

    def document(self) -> dict[str, Any]:
        totals = {
            k: getattr(self, k)
            for k in [
                "stock_t1_kg",
                "stock_t2_kg",
                "change_kg",
                "baseline_kg",
                "leakage_kg",
                "emissions_kg",
                "net_kg",
                "halfwidth_bps",
                "threshold_bps",
                "deduction_bps",
                "deduction_kg",
                "quantity_kg",
                "reserve_bps",
                "reserve_kg",
                "issuable_kg",
                "reversal_kg",
            ]
        }
        return {
            "format": RESULT_FORMAT,
            "report": {
                "sha256": self.report_sha256,
                "project": self.project,
                "monitoring_start": self.monitoring_start,
                "monitoring_end": self.monitoring_end,
            },
            "methodology": {
                "id": self.methodology_id,
                "version": self.methodology_version,
                "sha256": self.methodology_sha256,
            },
            "strata": [
                {
                    **{k: v for k, v in s.__dict__.items() if k != "pools"},
                    "pools": {p.pool: {k: v for k, v in p.__dict__.items() if k != "pool"} for p in s.pools},
                }
                for s in self.strata
            ],
            "totals": totals,
            "illustrative": list(self.illustrative),
        }

    def canonical(self) -> bytes:
        return canonical_json(self.document())

    @property
    def sha256(self) -> str:
        """Binds the report (its file's sha256), the methodology version (its bundle's) and the result."""
        return sha256_hex(self.canonical())


def down(kg: float) -> int:
    """Whole kilograms, rounded down after rounding to the gram: a value that is exact in decimals
    (7,975,000) but lands a float ulp below it (7,974,999.999999) is not robbed of a kilogram."""
    return math.floor(round(kg, 3))


def issue(net_kg: int, deduction_bps: int, reserve_bps: int) -> tuple[int, int, int, int]:
    """(deduction, quantity, reserve, issuable) from a whole net: issued rounds down, the reserve
    is floor(quantity × bps / 10000) as the registry contract mints it."""
    if net_kg <= 0:
        return 0, 0, 0, 0
    quantity = net_kg * (BPS - deduction_bps) // BPS
    reserve = quantity * reserve_bps // BPS
    return net_kg - quantity, quantity, reserve, quantity - reserve


def halfwidth_bps(z: float, se_kg: float, change_kg: float) -> int | None:
    return math.ceil(round(z * se_kg / change_kg * BPS, 6)) if change_kg > 0 else None


def settle(report: MonitoringReport, bundle: Bundle, sums: list[StratumSums]) -> Result:
    """Stocks, changes, deductions and the integer figures, stratum by stratum in id order."""
    names = list(bundle.variables)
    rows: list[StratumFigures] = []
    floats: list[tuple[float, ...]] = []  # unrounded t1, t2, change, baseline, leakage, emissions, net, se
    for s, m in zip(report.strata, sums):
        c = bundle.coefficients(s.species_group)  # tCO2e per unit per ha = kgCO2e per thousandth per ha
        pools = []
        t1_total = t2_total = change = 0.0
        for pool in bundle.pools:
            t1 = s.area_ha * sum(c[pool].get(v, 0.0) * m.t1[v] for v in names) / m.n
            t2 = s.area_ha * sum(c[pool].get(v, 0.0) * m.t2[v] for v in names) / m.n
            dc = s.area_ha * sum(c[pool].get(v, 0.0) * m.d[v] for v in names) / m.n
            pools.append(PoolFigures(pool, down(t1), down(t2), down(dc)))
            t1_total, t2_total, change = t1_total + t1, t2_total + t2, change + dc
        combined = {v: sum(c[pool].get(v, 0.0) for pool in bundle.pools) for v in names}
        variance = 0.0  # of one plot's change in kgCO2e/ha, from the exact covariances
        for v in names:
            for w in names:
                cov = (m.n * m.dd[(v, w)] - m.d[v] * m.d[w]) / (m.n * (m.n - 1))
                variance += combined[v] * combined[w] * cov
        se = s.area_ha * math.sqrt(max(variance, 0.0) / m.n)
        leakage = max(change, 0.0) * bundle.leakage_bps / BPS
        emissions = sum(e.kgco2e for e in report.emissions if e.stratum == s.id)
        net = change - s.baseline_kg - leakage - emissions
        floats.append((t1_total, t2_total, change, s.baseline_kg, leakage, emissions, net, se))
        rows.append(
            StratumFigures(
                id=s.id,
                species_group=s.species_group,
                plots=m.n,
                pools=tuple(pools),
                change_kg=down(change),
                baseline_kg=down(s.baseline_kg),
                leakage_kg=down(leakage),
                emissions_kg=down(emissions),
                net_kg=down(net),
                halfwidth_bps=halfwidth_bps(bundle.z, se, change),
                deduction_kg=0,  # set below, once the project's deduction is known
                reserve_kg=0,
                issuable_kg=0,
            )
        )
    total = [sum(f[k] for f in floats) for k in range(7)]
    change, net = total[2], total[6]
    se_total = math.sqrt(sum(f[7] ** 2 for f in floats))
    hw = halfwidth_bps(bundle.z, se_total, change)
    deduction_bps = min(BPS, max(0, (hw or 0) - bundle.threshold_bps))
    net_kg = down(net)
    deduction, quantity, reserve, issuable = issue(net_kg, deduction_bps, bundle.reserve_bps)
    strata = []
    for figures in rows:
        d, _, r, i = issue(figures.net_kg, deduction_bps, bundle.reserve_bps)
        strata.append(replace(figures, deduction_kg=d, reserve_kg=r, issuable_kg=i))
    return Result(
        report_sha256=report.sha256,
        project=report.project,
        monitoring_start=report.monitoring_start.isoformat(),
        monitoring_end=report.monitoring_end.isoformat(),
        methodology_id=bundle.id,
        methodology_version=bundle.version,
        methodology_sha256=bundle.sha256,
        strata=tuple(strata),
        stock_t1_kg=down(total[0]),
        stock_t2_kg=down(total[1]),
        change_kg=down(change),
        baseline_kg=down(total[3]),
        leakage_kg=down(total[4]),
        emissions_kg=down(total[5]),
        net_kg=net_kg,
        halfwidth_bps=hw,
        threshold_bps=bundle.threshold_bps,
        deduction_bps=deduction_bps,
        deduction_kg=deduction,
        quantity_kg=quantity,
        reserve_bps=bundle.reserve_bps,
        reserve_kg=reserve,
        issuable_kg=issuable,
        reversal_kg=-net_kg if net_kg < 0 else 0,
        illustrative=tuple(bundle.illustrative_used(report.species_groups, len(report.tree_line) > 0)),
    )


def compute(report: MonitoringReport, bundle: Bundle) -> Result:
    """The breakdown of a report under a methodology version; ReportErrors for a mistake that
    needs the methodology to be seen (unknown species group, a variable in the wrong unit)."""
    check(report, bundle)
    result = settle(report, bundle, stratum_sums(report, bundle))
    try:
        result.canonical()
    except CanonicalJsonError:  # beyond ±2^53 kg: what no report in the right units comes to
        raise ReportErrors(
            [
                ReportError(
                    report.file,
                    report.line,
                    "the result exceeds 9,007,199,254,740,991 kg (2^53), which no report in the right units "
                    "reaches; check the units of areas, baselines and emissions",
                )
            ]
        ) from None
    return result
