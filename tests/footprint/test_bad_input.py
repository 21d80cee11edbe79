"""Bad activity data: each mistake is one line naming the line, the problem and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import footprint


def data(*lines: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"subject": "event", "region": "510100", "year": 2026, "lines": list(lines)} | top


def line(**fields: Any) -> dict[str, Any]:
    return {"activity": "grid-electricity", "quantity": 100, "unit": "kWh"} | fields


def refused(d: Any) -> str:
    with pytest.raises(footprint.FootprintError) as caught:
        footprint.compute(d)
    message = str(caught.value)
    assert "\n" not in message and ";" in message  # one line: the problem; the fix
    return message


def test_an_unknown_activity_lists_the_known_ones() -> None:
    message = refused(data(line(activity="flight-first-class")))
    assert message.startswith("lines[0]: unknown activity 'flight-first-class'; use one of car-passenger, ")
    assert "`ledger factors list`" in message


def test_a_unit_that_does_not_convert_names_the_ones_that_do() -> None:
    assert refused(data(line(unit="m3"))) == (
        "lines[0]: unit m3 does not convert to kWh, the unit of grid-electricity's factors; "
        "give the quantity in kWh or MWh or 万kWh"
    )
    assert refused(data(line(unit="furlongs"))) == (
        "lines[0]: unit 'furlongs' is unknown; give grid-electricity in kWh or MWh or 万kWh"
    )


def test_a_distance_needs_the_number_of_passengers() -> None:
    message = refused(data(line(activity="flight-economy", quantity=3100, unit="km")))
    assert message.endswith("give the quantity in pkm with passengers (how many travelled)")


def test_a_negative_quantity() -> None:
    assert refused(data(line(), line(quantity=-5))) == (
        "lines[1]: quantity -5 is negative; give what was consumed (0 or more); a reduction is not a line of a footprint"
    )


def test_a_region_with_no_factor_and_no_fallback() -> None:
    # MEE/NBS publish no 西藏 factor, and an electricity factor never falls back silently to the national one
    assert refused(data(line(), region="540000")) == (
        "lines[0]: no grid-electricity factor for 540000 (西藏自治区), its province, and grid-electricity has no "
        "wider fallback; give the line a region that has one (e.g. CN or a grid region such as 西南) and say why"
    )
    # a metro factor exists for Beijing only; Chengdu's metro has none, not even a national one
    message = refused(data(line(activity="metro", quantity=20, unit="pkm")))
    assert message.startswith("lines[0]: no metro factor for 510100 (四川省), its province or nationally")


def test_a_region_that_is_no_code() -> None:
    assert refused(data(line(), region="990000")) == (
        "region '990000' is not a GB/T 2260 code (510100 for 成都, 510000 for 四川), a grid region (西南) or CN; fix it"
    )


def test_a_year_before_the_first_published_factor() -> None:
    assert refused(data(line(), year=2019)) == (
        "lines[0]: grid-electricity factors for 510000 start in 2021, after 2019; give a year of 2021 or later "
        "(the newest published year is used for later years)"
    )


def test_a_line_in_a_category_that_does_not_take_it() -> None:
    message = refused(data(line(category="waste")))
    assert message == "lines[0]: grid-electricity does not belong in waste; put it under electricity-heat"
    assert "give category" in refused(data(line(activity="declared-kgco2e", unit="kgCO2e")))


def test_a_reference_factor_is_not_a_location_based_line() -> None:
    message = refused(data(line(activity="grid-electricity-excl-traded-nonfossil")))
    assert "green-power certificates" in message and message.endswith("use grid-electricity (location-based)")


def test_other_mistakes_each_name_their_fix() -> None:
    cases = [
        (
            data(line(), subject="shipyard"),
            "subject 'shipyard' is not one of event, organisation, person, product, building",
        ),
        (data(line(), extra=1), "unknown field 'extra'"),
        (data(), "lines must be a non-empty list"),
        (data(line(quantity="lots")), "lines[0].quantity 'lots' is not a number"),
        (data(line(quantity=True)), "lines[0].quantity must be a number"),
        (data(line(quantity="1e999999999")), "out of range"),
        (data(line(quantity=10**13)), "beyond 1,000,000,000,000 kWh once converted"),
        (data(line(passengers=3)), "passengers goes with a distance in km"),
        (data(line(factor="cn-grid-2022-510000@9")), "no factor 'cn-grid-2022-510000@9'"),
        (data(line(factor="ill-meal-CN@1")), "factor ill-meal-CN@1 is for meal, not grid-electricity"),
        (data(line(), aviation_multiplier="9"), "aviation_multiplier 9 is outside 1..5"),
        (data(line(), year="2026"), "year '2026' is not a year"),
        ([], "the activity data is a JSON list; give an object"),
    ]
    for d, expected in cases:
        assert expected in refused(d), expected


def test_a_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "event.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(footprint.FootprintError, match=r"event\.json is not JSON; write the activity data as in"):
        footprint.load_input(bad)
    with pytest.raises(footprint.FootprintError, match=r"cannot read .*; check the path"):
        footprint.load_input(tmp_path / "missing.json")


def test_a_report_that_is_not_one() -> None:
    with pytest.raises(footprint.FootprintError, match="not a footprint report"):
        footprint.recompute({"lines": []})
