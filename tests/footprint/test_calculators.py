"""The product and building calculators (simplified), with the arithmetic written out: a product's
lines are of one unit and the report covers `units` of them; a building's operational year is also
given per square metre, its embodied materials apart. Both pin their factors like the other
subjects, recompute to the same bytes, and back a Product or Building certificate."""

from __future__ import annotations

from typing import Any

import pytest

import footprint
from certificates import footprint_report
from footprint.compute import recompute

# a steel-framed office chair, 1,000 of them, made in Chengdu: per chair
#   steel 1.5 kg × 2.0*                    = 3.0 kg    ×1000 → 1,500 kg steel      → 3,000 kg
#   plastic 0.8 kg × 2.5*                  = 2.0 kg    ×1000 → 800 kg              → 2,000 kg
#   electricity 2 kWh × 0.1404 (四川 2022)  = 0.2808 kg ×1000 → 2,000 kWh           → 280.8 → 281 kg
#   road freight 0.3 t·km × 0.1*           = 0.03 kg   ×1000 → 300 t·km            → 30 kg
#   landfill at end of life 2.3 kg × 0.5*  = 1.15 kg   ×1000 → 2,300 kg            → 1,150 kg
#   total 3,000 + 2,000 + 281 + 30 + 1,150 = 6,461 kg; per chair (3,000 + 2,000 + 280.8 + 30 + 1,150) ÷ 1,000
#   = 6.4608 → 6.461 kg (rounded up to a gram)
CHAIRS: dict[str, Any] = {
    "subject": "product",
    "title": "office chair, steel frame",
    "region": "510100",
    "year": 2026,
    "units": 1000,
    "lines": [
        {"activity": "material-steel", "quantity": "1.5", "unit": "kg"},
        {"activity": "material-plastic", "quantity": "0.8", "unit": "kg"},
        {"activity": "grid-electricity", "quantity": 2, "unit": "度", "label": "assembly line"},
        {"activity": "freight-road", "quantity": "0.3", "unit": "t·km"},
        {"activity": "waste-landfill", "quantity": "2.3", "unit": "kg"},
    ],
}
# a 12,000 m² office building in 成都武侯区 (510107), a year's operation, with its concrete counted once
#   electricity 120万 kWh = 1,200,000 kWh × 0.1404 = 168,480 kg
#   heat 800 GJ × 110*                            =  88,000 kg
#   natural gas 5,000 m³ × 2.16*                  =  10,800 kg
#   operational 168,480 + 88,000 + 10,800 = 267,280 kg a year; ÷ 12,000 m² = 22.2733… → 22.274 kg/m²
#   embodied: concrete 3,000 t = 3,000,000 kg × 0.13* = 390,000 kg; ÷ 12,000 = 32.5 kg/m²
#   total 657,280 kg
OFFICE: dict[str, Any] = {
    "subject": "building",
    "region": "510107",
    "year": 2026,
    "floor_area_m2": "12000",
    "lines": [
        {"activity": "grid-electricity", "quantity": 120, "unit": "万kWh"},
        {"activity": "purchased-heat", "quantity": 800, "unit": "GJ"},
        {"activity": "natural-gas", "quantity": 5000, "unit": "m3"},
        {"activity": "material-concrete", "quantity": 3000, "unit": "t", "label": "structure, C30"},
    ],
}


def test_a_products_lines_are_per_unit_and_the_report_covers_the_units() -> None:
    report = footprint.compute(CHAIRS)
    doc = report.document
    assert doc["method"] == {
        "id": "product-simplified",
        "version": 1,
        "title": doc["method"]["title"],
    }
    assert [ln["factor_quantity"] for ln in doc["lines"]] == ["1500", "800", "2000", "300", "2300"]
    assert [ln["kgco2e"] for ln in doc["lines"]] == [3_000, 2_000, 281, 30, 1_150]
    assert doc["lines"][2]["exact_kgco2e"] == "280.8"
    assert doc["total_kgco2e"] == 6_461
    assert doc["product"]["units"] == 1000 and doc["product"]["kgco2e_per_unit"] == "6.461"
    assert [(c["category"], c["kgco2e"]) for c in doc["categories"]] == [
        ("materials", 5_000),
        ("manufacturing", 281),
        ("transport", 30),
        ("end-of-life", 1_150),
    ]
    assert doc["lines"][0]["notes"] == [
        "no material-steel factor for 510100; CN used (national rule)",
        "per unit × 1,000 units",
    ]
    assert doc["lines"][2]["factor"]["ref"] == "cn-grid-2022-510000@1"  # 成都 → 四川's grid factor
    assert doc["illustrative"]  # steel, plastic, freight and landfill rest on illustrative rows
    assert recompute(doc).sha256 == report.sha256


def test_one_unit_is_the_default_and_its_report_is_the_per_unit_figure() -> None:
    one = footprint.compute({k: v for k, v in CHAIRS.items() if k != "units"}).document
    # per chair: 3 + 2 + 0.2808 → 1 + 0.03 → 1 + 1.15 → 2 (each line rounded up) = 9 kg; exact per unit 6.4608 → 6.461
    assert [ln["kgco2e"] for ln in one["lines"]] == [3, 2, 1, 1, 2]
    assert one["total_kgco2e"] == 9 and one["product"] == one["product"] | {"units": 1, "kgco2e_per_unit": "6.461"}


def test_a_buildings_year_is_given_per_square_metre_and_its_embodied_materials_apart() -> None:
    report = footprint.compute(OFFICE)
    doc = report.document
    assert [ln["kgco2e"] for ln in doc["lines"]] == [168_480, 88_000, 10_800, 390_000]
    assert [ln["category"] for ln in doc["lines"]] == [
        "operational-electricity",
        "operational-heat",
        "operational-fuel",
        "embodied",
    ]
    assert doc["total_kgco2e"] == 657_280
    building = doc["building"]
    assert building["floor_area_m2"] == "12000"
    assert building["operational_kgco2e_per_year"] == 267_280
    assert building["operational_kgco2e_per_m2_year"] == "22.274"  # 267,280 ÷ 12,000 = 22.2733…, rounded up
    assert building["embodied_kgco2e"] == 390_000 and building["embodied_kgco2e_per_m2"] == "32.5"
    assert recompute(doc).sha256 == report.sha256


def test_a_building_without_embodied_lines_reports_none() -> None:
    doc = footprint.compute(OFFICE | {"lines": OFFICE["lines"][:1]}).document
    assert doc["building"]["embodied_kgco2e"] == 0 and doc["building"]["embodied_kgco2e_per_m2"] == "0"
    assert doc["building"]["operational_kgco2e_per_m2_year"] == "14.04"  # 168,480 ÷ 12,000


def test_events_take_materials_and_waste_by_mass_too() -> None:
    doc = footprint.compute(
        {
            "subject": "event",
            "region": "510100",
            "year": 2026,
            "lines": [
                {"activity": "material-paper", "quantity": 200, "unit": "kg", "label": "programmes"},
                {"activity": "waste-incineration", "quantity": "0.5", "unit": "吨"},
            ],
        }
    ).document
    # paper 200 × 1.0* = 200; waste 0.5 t = 500 kg × 0.4* = 200
    assert [(ln["category"], ln["kgco2e"]) for ln in doc["lines"]] == [("materials", 200), ("waste", 200)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (CHAIRS | {"subject": "event"}, "units applies to a product only; drop it for a event"),
        (CHAIRS | {"units": 0}, "units 0 is not a whole number from 1 to 1,000,000,000"),
        (CHAIRS | {"units": "many"}, "units 'many' is not a whole number"),
        ({k: v for k, v in OFFICE.items() if k != "floor_area_m2"}, "floor_area_m2 is missing; give the building's"),
        (OFFICE | {"floor_area_m2": "-5"}, "floor_area_m2 -5 must be above 0"),
        (OFFICE | {"subject": "person"}, "floor_area_m2 applies to a building only"),
        (
            OFFICE | {"lines": [{"activity": "flight-economy", "quantity": 1, "unit": "pkm"}]},
            "lines[0]: flight-economy is not a source a building's report counts (operational-electricity, ",
        ),
        (
            CHAIRS | {"lines": [{"activity": "material-steel", "quantity": 1, "unit": "kWh"}]},
            "lines[0]: unit kWh does not convert to kg, the unit of material-steel's factors; give the quantity in "
            "kg or t",
        ),
    ],
)
def test_bad_product_and_building_input_names_the_fix(data: dict[str, Any], message: str) -> None:
    with pytest.raises(footprint.FootprintError) as caught:
        footprint.compute(data)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_product_and_building_certificates_rest_on_reports_of_their_subject() -> None:
    assert footprint_report.SUBJECTS["Product"] == "product"
    assert footprint_report.SUBJECTS["Building"] == "building"
    for scenario, data in (("Product", CHAIRS), ("Building", OFFICE)):
        doc = footprint.compute(data).document
        claim = {"footprint_kg": doc["total_kgco2e"]}
        assert footprint_report.report_problems(doc, claim, scenario, {}) == []
        other = "Building" if scenario == "Product" else "Product"
        assert any("subject" in p for p in footprint_report.report_problems(doc, claim, other, {}))
