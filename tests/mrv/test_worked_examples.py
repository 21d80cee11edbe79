"""One worked example per methodology, computed by hand: the arithmetic below uses only the
bundle's published parameter values and the report's numbers, never mrv's code, and its results
are written out as the literals the computation must reproduce to the kilogram.

Rounding (docs/mrv.md): each figure is rounded down to a whole kilogram (after rounding to the
gram); issued = floor(net × (10000 − deduction_bps) / 10000); reserve = floor(issued × 1000 / 10000)."""

from __future__ import annotations

import math
from pathlib import Path

import mrv

REPORTS = Path(__file__).resolve().parent / "reports"
CO2 = 44 / 12
Z, THRESHOLD, RESERVE = 1.645, 1000, 1000


def down(x: float) -> int:
    return math.floor(round(x, 3))


def test_forest_follows_the_research_notes_table() -> None:
    """next_wave.md §3.4: A 200 ha 柏木 12 → 30 m³/ha, B 150 ha 云杉 5 → 14 m³/ha, baseline, leakage
    and emissions 0. Parameters (SCFM-001-V01@1, all illustrative): 柏木 D 0.478, BEF 1.732, R 0.220,
    CF 0.5; 云杉 D 0.342, BEF 1.734, R 0.224, CF 0.5. The note rounds each factor to three decimals
    (1.852, 1.331: 8,464 t gross); unrounded they give 8,462.737 t. Its 12 % half-width was assumed;
    here it follows from four plots per stratum."""
    result = mrv.compute(mrv.load_report(REPORTS / "forest.json"), mrv.bundle("SCFM-001-V01", 1))

    # tCO2e per m³ of stem: above ground D × BEF × CF × 44/12, below ground that × R
    a_above = 0.478 * 1.732 * 0.5 * CO2  # 1.517809...
    a_below = a_above * 0.220  # 0.333918...
    b_above = 0.342 * 1.734 * 0.5 * CO2  # 1.087218...
    b_below = b_above * 0.224  # 0.243537...
    # plot changes ΔV (m³/ha): A 14, 16, 20, 22 (mean 18); B 8, 10, 7, 11 (mean 9)
    a_change = 200 * 18 * (a_above + a_below) * 1000  # 3,600 m³ × 1.851727 = 6,666,218.7 kg
    b_change = 150 * 9 * (b_above + b_below) * 1000  # 1,350 m³ × 1.330755 = 1,796,519.2 kg
    assert (down(a_change), down(b_change)) == (6_666_218, 1_796_519)
    net = down(a_change + b_change)
    assert net == 8_462_737
    # sampling error of each stratum's total: A × sd(ΔV)/√n × factor; sd² = Σ(ΔV − mean)²/(n − 1)
    se_a = 200 * math.sqrt((16 + 4 + 4 + 16) / 3) / 2 * (a_above + a_below) * 1000  # 676,163 kg
    se_b = 150 * math.sqrt((1 + 1 + 4 + 4) / 3) / 2 * (b_above + b_below) * 1000  # 182,222 kg
    halfwidth = Z * math.sqrt(se_a**2 + se_b**2) / (a_change + b_change)  # 0.136113: 13.62 %, rounded up
    assert math.ceil(halfwidth * 10_000) == 1362
    deduction_bps = 1362 - THRESHOLD  # 3.62 percentage points
    issued = net * (10_000 - deduction_bps) // 10_000  # 8,462,737 × 0.9638 = 8,156,385.9
    reserve = issued * RESERVE // 10_000
    assert (issued, reserve, issued - reserve) == (8_156_385, 815_638, 7_340_747)

    assert result.net_kg == 8_462_737
    assert result.halfwidth_bps == 1362 and result.deduction_bps == 362
    assert result.deduction_kg == 8_462_737 - 8_156_385
    assert (result.quantity_kg, result.reserve_kg, result.issuable_kg) == (8_156_385, 815_638, 7_340_747)
    assert result.reversal_kg == 0
    a, b = result.strata
    assert (a.id, a.change_kg, b.id, b.change_kg) == ("A", 6_666_218, "B", 1_796_519)
    # stocks: A at t1 200 ha × 12 m³/ha × 1.517809 t/m³ above ground = 3,642,742 kg
    assert a.pools[0].pool == "above_ground" and a.pools[0].stock_t1_kg == down(200 * 12 * a_above * 1000) == 3_642_742
    assert a.pools[1].stock_t2_kg == down(200 * 30 * a_below * 1000) == 2_003_508
    assert "cupressus.D" in result.illustrative and "rules.reserve" in result.illustrative
    assert "cupressus.F" not in result.illustrative  # no trees were counted: the form factor is unused


def test_grassland() -> None:
    """SCGM-001-V01@1, 1,000 ha 高寒草甸: CF 0.47, R 4.0 (illustrative), leakage 10 % of the change
    (illustrative), baseline 50,000 kg as reported. Quadrats: AGB 1.0/1.2/0.8 → 1.5/1.6/1.4 t/ha
    (Δ 0.5, 0.4, 0.6), SOC 80/82/78 → 81/83/79 t C/ha (Δ 1 each)."""
    result = mrv.compute(mrv.load_report(REPORTS / "grassland.csv"), mrv.bundle("SCGM-001-V01"))

    above = 1000 * 0.5 * 0.47 * CO2 * 1000  # 861,666.7 kg
    below = above * 4.0  # 3,446,666.7 kg
    soil = 1000 * 1 * CO2 * 1000  # 3,666,666.7 kg
    change = above + below + soil  # 7,975,000 kg
    leakage = change * 0.10  # 797,500 kg
    net = down(change - 50_000 - leakage)
    assert (down(change), net) == (7_975_000, 7_127_500)
    # only AGB varies: sd 0.1 t/ha; each t/ha of AGB is 0.47 × 44/12 × (1 + 4.0) = 8.616667 tCO2e/ha
    se = 1000 * 0.1 / math.sqrt(3) * 0.47 * CO2 * 5 * 1000  # 497,484 kg
    assert math.ceil(Z * se / change * 10_000) == 1027  # 10.27 %: deduct 0.27 points
    issued = net * (10_000 - 27) // 10_000
    assert (issued, issued * RESERVE // 10_000) == (7_108_255, 710_825)

    assert (result.change_kg, result.baseline_kg, result.leakage_kg, result.net_kg) == (
        7_975_000,
        50_000,
        797_500,
        7_127_500,
    )
    assert (result.halfwidth_bps, result.deduction_bps) == (1027, 27)
    assert (result.quantity_kg, result.reserve_kg, result.issuable_kg) == (7_108_255, 710_825, 6_397_430)
    assert [p.pool for p in result.strata[0].pools] == ["above_ground", "below_ground", "soil"]
    assert [p.change_kg for p in result.strata[0].pools] == [861_666, 3_446_666, 3_666_666]


def test_wetland_counts_its_methane() -> None:
    """SCWM-001-V01@1, 500 ha 泥炭沼泽: CF 0.47, R 2.0 (illustrative). Two cores: AGB 2.0 → 2.2 t/ha,
    SOC 300/310 → 302/312 t C/ha; 400,000 kgCO2e of methane over the period. Both cores change
    alike, so the sampling half-width is 0 and nothing is deducted for uncertainty."""
    result = mrv.compute(mrv.load_report(REPORTS / "wetland.csv"), mrv.bundle("SCWM-001-V01"))

    above = 500 * 0.2 * 0.47 * CO2 * 1000  # 172,333.3 kg
    below = above * 2.0  # 344,666.7 kg
    soil = 500 * 2 * CO2 * 1000  # 3,666,666.7 kg
    change = above + below + soil  # 4,183,666.7 kg
    net = down(change - 400_000)
    assert (down(change), net) == (4_183_666, 3_783_666)
    assert (result.change_kg, result.emissions_kg, result.net_kg) == (4_183_666, 400_000, 3_783_666)
    assert (result.halfwidth_bps, result.deduction_kg) == (0, 0)
    assert (result.quantity_kg, result.reserve_kg, result.issuable_kg) == (3_783_666, 378_366, 3_405_300)


def test_trees_become_a_plots_volume() -> None:
    """Per-tree measurements: v = F × π/4 × (dbh/100)² × h with F 0.45 (illustrative). Three trees of
    20 cm and 15 m on a 600 m² plot: each 0.45 × 0.785398 × 0.04 × 15 = 0.2120575 m³ (212,058 cm³),
    the plot 3 × 212,058 cm³ / 0.06 ha = 10.603 m³/ha; at t1 the plot was bare."""
    from tests.mrv.build import T1, T2, compute, stratum

    doc = {
        "report": {"project": "P-T", "monitoring_start": "2020-01-01", "monitoring_end": "2024-12-31"},
        "strata": [stratum("A", 10)],
        "plots": [{"id": "p1", "stratum": "A", "area_m2": 600}, {"id": "p2", "stratum": "A", "area_m2": 600}],
        "visits": [{"plot": p, "date": T1} for p in ("p1", "p2")],
        "trees": [{"plot": p, "date": T2, "dbh_cm": 20, "height_m": 15} for p in ("p1", "p2") for _ in range(3)],
    }
    result = compute(doc)
    per_tree = round(0.45 * math.pi / 4 * 0.2**2 * 15 * 1e6)  # cm³
    assert per_tree == 212_058
    volume = round(3 * per_tree / 1e6 / 0.06, 3)  # m³/ha, to the thousandth
    assert volume == 10.603
    expected = down(10 * volume * 0.478 * 1.732 * 0.5 * CO2 * 1.22 * 1000)  # 10 ha, 柏木 factor
    assert result.change_kg == expected == 196_338  # 106.03 m³ × 1.851727 t/m³
    assert result.halfwidth_bps == 0 and "cupressus.F" in result.illustrative
