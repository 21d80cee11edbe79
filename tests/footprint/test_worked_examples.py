"""Worked examples with the arithmetic written out: the 500-person, 2-day Chengdu conference of the
research note (next_wave.md §1.4), a Chengdu household's year, an organisation's scopes; the one
rounding rule; reports that pin their factors across a new factor version."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import footprint
from tests.footprint.conftest import example

SICHUAN = "cn-grid-2022-510000@1"


def kg(report: footprint.FootprintReport) -> list[int]:
    return [ln["kgco2e"] for ln in report.document["lines"]]


def test_the_chengdu_conference() -> None:
    report = footprint.compute(example("chengdu_conference.json"))
    doc = report.document
    assert kg(report) == [
        2_808,  # venue electricity: 20,000 kWh × 0.1404 (四川 2022, MEE/NBS) = 2,808
        46_500,  # flights: 100 passengers × 3,100 km = 310,000 pkm × 0.15 = 46,500
        3_600,  # high-speed rail: 200 × 600 km = 120,000 pkm × 0.03 = 3,600
        2_400,  # local car: 200 × 60 km = 12,000 pkm × 0.20 = 2,400
        9_000,  # hotel: 300 room-nights × 30 = 9,000
        2_500,  # meals: 1,000 × 2.5 = 2,500
        1_000,  # materials and waste: a declared lump of 1,000 kgCO2e
    ]
    # 2,808 + 46,500 + 3,600 + 2,400 + 9,000 + 2,500 + 1,000 = 67,808 kg: 67.8 t, retire 68 t
    assert doc["total_kgco2e"] == 67_808
    assert doc["method"] == {"id": "event-mee-2019", "version": 1, "title": footprint.METHODS["event"].title}
    assert doc["aviation_multiplier"] == {"applied": False, "value": None}
    assert doc["lines"][0]["factor"]["ref"] == SICHUAN
    assert doc["lines"][0]["notes"] == [
        "no grid-electricity factor for 510100; 510000 used (province rule)",
        "2026 uses the newest published year not after it, 2022",
    ]
    # travel: 46,500 + 3,600 + 2,400 = 52,500 of 67,808 = 77 %: the attendee survey is the critical input
    by = {c["category"]: c["kgco2e"] for c in doc["categories"]}
    assert by == {
        "electricity-heat": 2_808,
        "travel": 52_500,
        "lodging": 9_000,
        "catering": 2_500,
        "materials": 1_000,
    }
    assert round(by["travel"] / doc["total_kgco2e"] * 100) == 77
    # five lines rest on illustrative factors, and the report says so, line by line
    assert doc["illustrative"] is True and len(doc["warnings"]) == 5
    assert report.illustrative == [
        "ill-car-passenger-CN@1",
        "ill-flight-economy-CN@1",
        "ill-hotel-room-night-CN@1",
        "ill-meal-CN@1",
        "ill-rail-high-speed-CN@1",
    ]
    assert len(report.sha256) == 64


def test_the_grid_factor_alone_swings_the_venue_line_almost_four_times() -> None:
    data = example("chengdu_conference.json")
    data["lines"] = [dict(data["lines"][0], region="CN")]
    national = footprint.compute(data)
    # 20,000 kWh × 0.5366 (national 2022) = 10,732 kg against 2,808 with Sichuan's own factor: 3.8×
    assert kg(national) == [10_732]
    assert round(10_732 / 2_808, 1) == 3.8


def test_an_aviation_multiplier_is_applied_to_flights_only_and_said() -> None:
    data = example("chengdu_conference.json") | {"aviation_multiplier": "2"}
    report = footprint.compute(data)
    # flights 310,000 pkm × 0.15 × 2 = 93,000; the rest unchanged: 67,808 − 46,500 + 93,000 = 114,308
    assert kg(report)[1] == 93_000 and report.total_kg == 114_308
    assert report.document["aviation_multiplier"] == {"applied": True, "value": "2"}
    assert [ln["multiplier"] for ln in report.document["lines"]] == ["1", "2", "1", "1", "1", "1", "1"]


def test_a_chengdu_household_year() -> None:
    report = footprint.compute(example("chengdu_household.json"))
    assert kg(report) == [
        169,  # 1,200 kWh × 0.1404 = 168.48, rounded up to 169
        432,  # 200 m³ natural gas × 2.16 = 432 (illustrative factor)
        1_600,  # 8,000 pkm by car × 0.20 = 1,600 (illustrative factor)
    ]
    doc = report.document
    assert doc["lines"][0]["exact_kgco2e"] == "168.48"
    # 169 + 432 + 1,600 = 2,201 kg: 2.201 t
    assert doc["total_kgco2e"] == 2_201
    assert [c["zh"] for c in doc["categories"]] == ["住", "行"]
    assert doc["method"]["id"] == "person-yishizhuxingyong"


def test_an_organisation_scopes_one_two_three() -> None:
    data = {
        "subject": "organisation",
        "region": "510100",
        "year": 2025,
        "lines": [
            {"activity": "natural-gas", "quantity": "0.5", "unit": "万m3", "label": "canteen boilers"},
            {"activity": "grid-electricity", "quantity": 150, "unit": "MWh", "label": "offices"},
            {"activity": "flight-economy", "quantity": 20000, "unit": "pkm", "label": "business travel"},
        ],
    }
    report = footprint.compute(data)
    # scope 1: 0.5 万m³ = 5,000 m³ × 2.16 = 10,800
    # scope 2: 150 MWh = 150,000 kWh × 0.1404 = 21,060 (location-based, the average grid factor)
    # scope 3: 20,000 pkm × 0.15 = 3,000
    assert kg(report) == [10_800, 21_060, 3_000]
    assert [c["category"] for c in report.document["categories"]] == ["scope1", "scope2", "scope3"]
    assert report.total_kg == 10_800 + 21_060 + 3_000 == 34_860


def test_each_line_rounds_up_and_the_total_is_their_sum() -> None:
    data = {
        "subject": "person",
        "region": "CN",
        "year": 2022,
        "lines": [
            {"activity": "grid-electricity", "quantity": 1, "unit": "kWh"},  # 0.5366 → 1
            {"activity": "grid-electricity", "quantity": 0, "unit": "kWh"},  # 0 → 0
            {"activity": "rail-high-speed", "quantity": "100", "unit": "pkm"},  # 3.00 → 3, exact stays
        ],
    }
    report = footprint.compute(data)
    assert kg(report) == [1, 0, 3] and report.total_kg == 4
    assert [ln["exact_kgco2e"] for ln in report.document["lines"]] == ["0.5366", "0", "3"]


def test_the_report_hash_is_of_its_canonical_json_and_recomputes() -> None:
    report = footprint.compute(example("chengdu_conference.json"))
    from chain.canonical import canonical_json, sha256_hex

    assert report.sha256 == sha256_hex(canonical_json(report.document))
    assert footprint.recompute(copy.deepcopy(report.document)).sha256 == report.sha256
    changed = copy.deepcopy(report.document)
    changed["lines"][0]["quantity"] = "10000"
    assert footprint.recompute(changed).sha256 != report.sha256


def new_sichuan_version(factors: Path) -> None:
    """Publish cn-grid-2022-510000@2 (a correction, 0.1500) and mark @1 superseded, as an update would."""
    path = factors / "grid_electricity.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("cn-grid-2022-510000,1,"))
    old = lines[i]
    lines[i] = old.replace(",2024-12-20,,,false,", ",2024-12-20,,cn-grid-2022-510000@2,false,")
    assert lines[i] != old
    lines.append(old.replace("cn-grid-2022-510000,1,", "cn-grid-2022-510000,2,").replace(",0.1404,", ",0.1500,"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_new_factor_version_never_changes_an_old_report(factors_copy: Path) -> None:
    old = footprint.compute(example("chengdu_conference.json"))
    new_sichuan_version(factors_copy)
    updated = footprint.load(factors_copy)
    # a new computation takes the current version: 20,000 × 0.1500 = 3,000
    fresh = footprint.compute(example("chengdu_conference.json"), updated)
    assert fresh.document["lines"][0]["factor"]["ref"] == "cn-grid-2022-510000@2" and kg(fresh)[0] == 3_000
    # the old report recomputes from its pinned @1, byte for byte
    again = footprint.recompute(old.document, updated)
    assert again.sha256 == old.sha256 and kg(again)[0] == 2_808
    # and activity data may pin a version itself
    data = example("chengdu_conference.json")
    data["lines"][0]["factor"] = SICHUAN
    assert kg(footprint.compute(data, updated))[0] == 2_808


def test_a_factor_row_edited_in_place_is_noticed(factors_copy: Path) -> None:
    old = footprint.compute(example("chengdu_conference.json"))
    path = factors_copy / "grid_electricity.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",0.1404,", ",0.1400,"), encoding="utf-8")
    with pytest.raises(footprint.FootprintError, match=r"lines\[0\]: factor cn-grid-2022-510000@1 has changed since"):
        footprint.recompute(old.document, footprint.load(factors_copy))


def test_check_refuses_a_report_changed_and_rehashed() -> None:
    from chain.canonical import canonical_json, sha256_hex

    output = footprint.compute(example("chengdu_conference.json")).output()
    assert footprint.check(copy.deepcopy(output)).sha256 == output["sha256"]
    forged = copy.deepcopy(output)
    forged["report"]["lines"][1]["kgco2e"] = 4_650  # flights shown a tenth of what they are
    forged["report"]["total_kgco2e"] -= 41_850
    forged["sha256"] = sha256_hex(canonical_json(forged["report"]))
    with pytest.raises(footprint.FootprintError, match=r"does not recompute .* \(line 2 differs\)"):
        footprint.check(forged)
