"""The factor library: every row cites a source, a row without a public one is illustrative (and
said so), values are the published ones, and a broken row stops the library from loading."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import footprint
from footprint.library import COLUMNS, FACTORS_DIR

TABLES = sorted(p for p in FACTORS_DIR.glob("*.csv") if p.name not in ("activities.csv", "regions.csv"))


def rows() -> list[tuple[str, int, dict[str, str]]]:
    out = []
    for path in TABLES:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            out += [(path.name, reader.line_num, row) for row in reader]
    return out


def test_every_row_cites_a_source_and_only_illustrative_rows_lack_an_address() -> None:
    found = rows()
    assert len(found) == 101
    for file, line, row in found:
        where = f"{file}:{line} {row['id']}"
        assert set(row) == set(COLUMNS), where
        assert row["source"].strip(), f"{where} cites no source"
        if row["illustrative"] == "true":
            assert row["source"].startswith("illustrative"), f"{where}: an illustrative row says so in its source"
        elif row["activity"] != "declared-kgco2e":  # a definition (1 kg is 1 kg) has no publication
            assert row["source_url"].startswith(("http://", "https://")), f"{where} has no public address"
    illustrative = sorted(r["id"] for _, _, r in found if r["illustrative"] == "true")
    assert illustrative == [
        "ill-car-passenger-CN",
        "ill-flight-economy-CN",
        "ill-freight-rail-CN",
        "ill-freight-road-CN",
        "ill-freight-sea-CN",
        "ill-hotel-room-night-CN",
        "ill-material-aluminium-CN",
        "ill-material-cement-CN",
        "ill-material-concrete-CN",
        "ill-material-glass-CN",
        "ill-material-paper-CN",
        "ill-material-plastic-CN",
        "ill-material-steel-CN",
        "ill-meal-CN",
        "ill-natural-gas-CN",
        "ill-purchased-heat-CN",
        "ill-rail-high-speed-CN",
        "ill-waste-incineration-CN",
        "ill-waste-landfill-CN",
    ]


def test_the_grid_factors_are_the_published_ones() -> None:
    lib = footprint.shipped()
    value = {ref: str(f.kgco2e_per_unit) for ref, f in lib.factors.items()}
    # MEE/NBS 2021 (公告2024年第12号) and 2022 (2024-12-20) as the research note quotes them
    assert value["cn-grid-2022-510000@1"] == "0.1404" and value["cn-grid-2021-510000@1"] == "0.1255"
    assert value["cn-grid-2022-CN@1"] == "0.5366" and value["cn-grid-2021-CN@1"] == "0.5568"
    assert value["cn-grid-excl-traded-nonfossil-2022-CN@1"] == "0.5856"
    assert value["cn-grid-fossil-2022-CN@1"] == "0.8325" and value["cn-grid-fossil-2021-CN@1"] == "0.8426"
    assert value["cn-grid-2022-xinan@1"] == "0.2268"
    assert [value[f"cn-grid-2022-{c}@1"] for c in ("500000", "530000", "520000")] == ["0.5227", "0.1073", "0.4989"]
    grid = [f for f in lib.factors.values() if f.activity == "grid-electricity"]
    assert len({f.region for f in grid if f.year == 2022}) == 30 + 7 + 1  # provinces, grid regions, CN
    assert not any(f.illustrative for f in grid)


def test_a_row_without_a_source_stops_the_library(factors_copy: Path) -> None:
    path = factors_copy / "transport.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Beijing measurement reported in the press: a 22 km car trip emits 5.98 kg", ""))
    with pytest.raises(
        footprint.FootprintError, match=r"transport.csv:\d+: factor bj-car-passenger-110000 cites no source"
    ):
        footprint.load(factors_copy)


def test_a_sourced_row_needs_its_address_or_says_it_is_illustrative(factors_copy: Path) -> None:
    path = factors_copy / "transport.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("https://news.hlgnet.com/info/17600", ""))
    with pytest.raises(footprint.FootprintError, match=r"has no source_url; .* or mark it illustrative=true"):
        footprint.load(factors_copy)


def test_two_current_rows_for_one_key_are_refused(factors_copy: Path) -> None:
    path = factors_copy / "grid_electricity.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    sichuan = next(ln for ln in lines if ln.startswith("cn-grid-2022-510000,1,"))
    path.write_text("\n".join([*lines, sichuan.replace(",1,", ",2,", 1).replace("0.1404", "0.15")]) + "\n")
    with pytest.raises(footprint.FootprintError, match=r"both current .* set superseded_by on the older one"):
        footprint.load(factors_copy)
