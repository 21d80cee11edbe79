"""Properties of the computation over generated reports (hypothesis): more growth never yields
fewer credits, a wider confidence interval never more, and the order of a report's rows never
changes a kilogram."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mrv.build import T1, T2, compute, stratum

GROUPS = ["cupressus", "picea", "abies", "quercus"]

# a stratum: area, group, the common growth (m³/ha) and symmetric spreads (each gives two plots ±e)
strata_st = st.lists(
    st.tuples(
        st.integers(1, 5000),
        st.sampled_from(GROUPS),
        st.integers(-50, 200),
        st.lists(st.integers(0, 40), min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=3,
)


def report(strata: list[tuple[int, str, int, list[int]]], *, extra: int = 0, widen: int = 1) -> dict[str, Any]:
    """V t1 = 300 m³/ha; V t2 = 300 + growth (+ extra in the first stratum) ± spread × widen."""
    plots: list[tuple[str, float, str, list[tuple[float, float]]]] = []
    for k, (area, group, growth, spreads) in enumerate(strata):
        g = growth + (extra if k == 0 else 0)
        pairs = [(300.0, 300.0 + g + s * widen) for s in spreads] + [(300.0, 300.0 + g - s * widen) for s in spreads]
        plots.append((f"S{k}", area, group, pairs))
    return volume_doc(plots)


def volume_doc(strata: list[tuple[str, float, str, list[tuple[float, float]]]]) -> dict[str, Any]:
    from tests.mrv.build import volume_report

    return volume_report(strata)


@settings(max_examples=150, deadline=None)
@given(strata=strata_st, extra=st.integers(0, 100))
def test_more_growth_never_yields_fewer_credits(strata: list[tuple[int, str, int, list[int]]], extra: int) -> None:
    """A stratum that grows more on every plot (the same extra on each, so its spread is unchanged)."""
    base, more = compute(report(strata)), compute(report(strata, extra=extra))
    assert more.quantity_kg >= base.quantity_kg
    assert more.issuable_kg >= base.issuable_kg
    assert more.net_kg >= base.net_kg
    assert more.reversal_kg <= base.reversal_kg


@settings(max_examples=150, deadline=None)
@given(strata=strata_st, widen=st.integers(1, 4))
def test_a_wider_confidence_interval_never_yields_more(
    strata: list[tuple[int, str, int, list[int]]], widen: int
) -> None:
    """The same mean growth with the plots spread wider: a wider interval, never more credits."""
    base, wider = compute(report(strata)), compute(report(strata, widen=widen))
    assert wider.net_kg == base.net_kg  # the same stock change
    if base.halfwidth_bps is not None:
        assert wider.halfwidth_bps is not None and wider.halfwidth_bps >= base.halfwidth_bps
    assert wider.quantity_kg <= base.quantity_kg
    assert wider.issuable_kg <= base.issuable_kg


def tree_doc(seed: int, plots_per_stratum: int, trees: int) -> dict[str, Any]:
    rng = random.Random(seed)
    doc: dict[str, Any] = {
        "report": {"project": "P-S", "monitoring_start": "2020-01-01", "monitoring_end": "2024-12-31"},
        "strata": [stratum("A", 120.5, "cupressus"), stratum("B", 80.25, "picea"), stratum("C", 33, "quercus")],
        "plots": [],
        "visits": [],
        "trees": [],
        "emissions": [
            {"id": "e1", "stratum": "B", "kind": "fire", "date": "2023-03-02", "kgco2e": 1234.5},
            {"id": "e2", "stratum": "B", "kind": "fuel", "date": "2023-03-03", "kgco2e": 0.1},
            {"id": "e3", "stratum": "A", "kind": "logging", "date": "2022-01-01", "kgco2e": 77.7},
        ],
    }
    for s in "ABC":
        for p in range(plots_per_stratum):
            pid = f"{s}{p}"
            doc["plots"].append({"id": pid, "stratum": s, "area_m2": rng.choice([400, 600, 666.7])})
            for day in (T1, T2):
                doc["trees"] += [
                    {
                        "plot": pid,
                        "date": day,
                        "dbh_cm": round(rng.uniform(5, 40), 1),
                        "height_m": round(rng.uniform(3, 25), 1),
                    }
                    for _ in range(rng.randint(0, trees))
                ]
                doc["visits"].append({"plot": pid, "date": day})
    return doc


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), shuffle=st.integers(0, 2**32))
def test_a_shuffled_report_gives_the_same_result(seed: int, shuffle: int) -> None:
    doc = tree_doc(seed, plots_per_stratum=3, trees=12)
    mixed = {k: (random.Random(shuffle).sample(v, len(v)) if isinstance(v, list) else v) for k, v in doc.items()}
    assert mixed != doc or len(doc["trees"]) < 2
    first, second = compute(doc), compute(mixed)
    assert first.figures() == second.figures()
    assert first.report_sha256 != second.report_sha256 or mixed == doc  # the file's bytes differ, the figures do not


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_json_and_csv_are_the_same_report(seed: int) -> None:
    import mrv
    from tests.mrv.build import dumps, to_csv

    doc = tree_doc(seed, plots_per_stratum=2, trees=6)
    bundle = mrv.bundle("SCFM-001-V01")
    as_json = mrv.compute(mrv.parse_report(dumps(doc), "r.json"), bundle)
    as_csv = mrv.compute(mrv.parse_report(to_csv(doc), "r.csv"), bundle)
    assert as_json.figures() == as_csv.figures() and as_json.quantity_kg == compute(doc).quantity_kg
