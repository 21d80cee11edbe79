"""Each kind of mistake in a report is one line naming the file, the line and the fix; all of them
are collected, and a report with any mistake is refused whole."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mrv
from mrv.methodology import parse
from tests.mrv.build import T2, dumps, volume_report

REPORTS = Path(__file__).resolve().parent / "reports"


def good() -> dict[str, Any]:
    return volume_report([("A", 200, "cupressus", [(12, 26), (12, 28)]), ("B", 150, "picea", [(5, 13), (5, 15)])])


def line_of(doc: dict[str, Any], needle: str) -> int:
    return next(n for n, text in enumerate(dumps(doc).decode().splitlines(), start=1) if needle in text)


def refused(doc: dict[str, Any] | bytes, *said: str, methodology: str = "SCFM-001-V01") -> str:
    data = doc if isinstance(doc, bytes) else dumps(doc)
    with pytest.raises(mrv.ReportErrors) as caught:
        mrv.compute(mrv.parse_report(data, "plots.json"), mrv.reference(methodology))
    first = str(caught.value.errors[0])
    assert "\n" not in str(caught.value)
    for phrase in said:
        assert phrase in first, f"{phrase!r} not in {first!r}"
    return first


def test_a_good_report_passes() -> None:
    assert mrv.compute(mrv.parse_report(dumps(good()), "plots.json"), mrv.bundle("SCFM-001-V01")).quantity_kg > 0


def test_dbh_in_millimetres() -> None:
    doc = good()
    doc["plots"] += [{"id": "T", "stratum": "A", "area_m2": 600}]
    doc["trees"] = [
        {"plot": "T", "date": d, "dbh_cm": dbh, "height_m": 12} for d, dbh in (("2020-06-01", 8), (T2, 234.5))
    ]
    doc["trees"].append({"plot": "T", "date": T2, "dbh_cm": 312, "height_m": 12})
    line = line_of(doc, '"dbh_cm": 312')
    refused(doc, f"plots.json:{line}:", "dbh_cm 312 looks like millimetres", "give centimetres (divide by 10)")


def test_a_plot_outside_any_stratum() -> None:
    doc = good()
    doc["plots"][1]["stratum"] = "Z"
    line = line_of(doc, '"stratum": "Z"')
    refused(doc, f"plots.json:{line}:", "stratum 'Z', which is not in strata", "add the stratum or fix the plot's")


def test_a_negative_diameter() -> None:
    doc = good()
    doc["plots"] += [{"id": "T", "stratum": "A", "area_m2": 600}]
    doc["trees"] = [
        {"plot": "T", "date": "2020-06-01", "dbh_cm": 8, "height_m": 5},
        {"plot": "T", "date": T2, "dbh_cm": -14, "height_m": 9},
    ]
    line = line_of(doc, '"dbh_cm": -14')
    refused(doc, f"plots.json:{line}:", "negative diameter", "give the diameter at breast height in cm")


def test_a_date_outside_the_crediting_period() -> None:
    doc = good()
    doc["visits"][1]["date"] = "2041-06-01"
    line = line_of(doc, "2041-06-01")
    refused(
        doc,
        f"plots.json:{line}:",
        "2041-06-01 is outside stratum A's crediting period 2020-01-01..2039-12-31",
        "fix the date",
    )


def test_an_unknown_species_group() -> None:
    doc = good()
    doc["strata"][1]["species_group"] = "cypress"
    line = line_of(doc, '"cypress"')
    refused(doc, f"plots.json:{line}:", "species group 'cypress' is not in SCFM-001-V01@1", "use one of: abies")


def test_a_volume_in_the_wrong_unit() -> None:
    doc = good()
    doc["visits"][3]["volume_m3_ha"] = 28000
    line = line_of(doc, '"volume_m3_ha": 28000')
    refused(doc, f"plots.json:{line}:", "volume_m3_ha 28000", "give m³ per hectare")


def test_a_wetland_without_its_methane() -> None:
    data = (REPORTS / "wetland.csv").read_bytes().split(b"[emissions]")[0]
    with pytest.raises(mrv.ReportErrors) as caught:
        mrv.compute(mrv.parse_report(data, "wetland.csv"), mrv.bundle("SCWM-001-V01"))
    assert str(caught.value).startswith("wetland.csv:8: SCWM-001-V01@1 needs a methane emissions entry for stratum W1")


def test_every_mistake_is_collected_and_nothing_is_returned() -> None:
    doc = good()
    doc["plots"][0]["stratum"] = "Z"
    doc["visits"][5]["date"] = "2045-01-01"
    doc["strata"][0]["area_ha"] = -3
    with pytest.raises(mrv.ReportErrors) as caught:
        mrv.parse_report(dumps(doc), "plots.json")
    lines = [e.line for e in caught.value.errors]
    assert lines == sorted(lines) and len(lines) == 3
    assert str(caught.value).endswith("(and 2 more mistakes)")
    assert "area_ha -3 must be above 0" in str(caught.value.errors[0])


def test_syntax_errors_name_their_line() -> None:
    text = dumps(good()).decode().splitlines()
    text[9] = text[9].replace("}", "")  # an object left open on line 10 is found where the next begins
    with pytest.raises(mrv.ReportErrors) as caught:
        mrv.parse_report("\n".join(text).encode(), "plots.json")
    assert str(caught.value).startswith("plots.json:11: not valid JSON (Expecting property name")
    csv = (REPORTS / "grassland.csv").read_bytes().replace(b"Q2,2021-08-15,1.2,82", b"Q2,2021-08-15,1.2")
    with pytest.raises(mrv.ReportErrors) as caught:
        mrv.parse_report(csv, "grassland.csv")
    assert str(caught.value) == "grassland.csv:19: 3 cells where [visits] has 4 columns; fix the row"


def test_a_csv_mistake_names_its_line() -> None:
    csv = (REPORTS / "grassland.csv").read_bytes().replace(b"Q3,G1", b"Q3,G9")
    with pytest.raises(mrv.ReportErrors) as caught:
        mrv.parse_report(csv, "grassland.csv")
    assert str(caught.value).startswith("grassland.csv:14: plot Q3 is in stratum 'G9', which is not in strata")


def test_a_later_fire_is_a_reversal() -> None:
    """Period two (2025-2029): a fire took stratum A from 30 to 20 m³/ha on average (plots 28 → 18,
    32 → 22) and emitted 5,000 kg of CH4 and N2O. Stock lost: 200 ha × 10 m³/ha × 1.851727 t/m³ =
    3,703,454.8 kg; with the fire's other gases the net is −3,708,454.8 kg: nothing is issued and
    3,708,455 kg (rounded up: the loss is floor(net) negated) are cancelled from the reserve."""
    doc = volume_report([("A", 200, "cupressus", [(28, 18), (32, 22)])])
    doc["emissions"] = [{"id": "fire-1", "stratum": "A", "kind": "fire", "date": "2022-04-01", "kgco2e": 5000}]
    result = mrv.compute(mrv.parse_report(dumps(doc), "p2.json"), mrv.bundle("SCFM-001-V01"))
    assert (result.net_kg, result.quantity_kg, result.reserve_kg, result.issuable_kg) == (-3_708_455, 0, 0, 0)
    assert result.reversal_kg == 3_708_455 and result.halfwidth_bps is None and result.deduction_kg == 0


def test_a_bundle_value_must_cite_a_source_or_say_it_is_illustrative() -> None:
    doc = copy.deepcopy(dict(mrv.bundle("SCFM-001-V01").document))
    entry = doc["species_groups"]["cupressus"]["parameters"]["D"]
    entry["illustrative"] = False
    del entry["source"]
    with pytest.raises(mrv.MethodologyError, match=r"cupressus\.D: cite a source"):
        parse(doc)
    entry["source"] = {"citation": "a published table"}
    assert "cupressus.D" not in parse(doc).illustrative


def test_a_bundles_hash_is_its_content_not_its_layout() -> None:
    b = mrv.bundle("SCFM-001-V01", 1)
    assert parse(copy.deepcopy(dict(b.document))).sha256 == b.sha256
    changed = copy.deepcopy(dict(b.document))
    changed["species_groups"]["picea"]["parameters"]["BEF"]["value"] = "1.735"
    assert parse(changed).sha256 != b.sha256
    with pytest.raises(mrv.MethodologyError, match="has no version 9; use one of: 1"):
        mrv.reference("SCFM-001-V01@9")


def test_a_result_binds_report_and_methodology() -> None:
    doc = good()
    one = mrv.compute(mrv.parse_report(dumps(doc), "r.json"), mrv.bundle("SCFM-001-V01"))
    again = mrv.compute(mrv.parse_report(dumps(doc) + b"\n", "r.json"), mrv.bundle("SCFM-001-V01"))
    assert one.figures() == again.figures() and one.sha256 != again.sha256  # other bytes, other report
    assert one.document()["methodology"]["sha256"] == mrv.bundle("SCFM-001-V01").sha256
    assert one.canonical().decode().startswith('{"format":"ledger-mrv-result/1","illustrative":[')


TOKENS = [b"", b"-", b"0", b"1e400", b"nan", b"null", b"[]", b"{}", b'"x"', b",", b"\n", b"]", b"}", b"\xff", b"9999"]


@settings(max_examples=300, deadline=None)
@given(
    which=st.sampled_from(["forest.json", "grassland.csv", "wetland.csv"]),
    edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 6), st.sampled_from(TOKENS)), min_size=1, max_size=3),
)
def test_a_damaged_report_is_refused_by_line_or_computed_never_crashes(
    which: str, edits: list[tuple[int, int, bytes]]
) -> None:
    data = bytearray((REPORTS / which).read_bytes())
    for at, length, token in edits:
        at %= len(data)
        data[at : at + length] = token
    methodology = {"forest.json": "SCFM-001-V01", "grassland.csv": "SCGM-001-V01", "wetland.csv": "SCWM-001-V01"}
    try:
        mrv.compute(mrv.parse_report(bytes(data), which), mrv.bundle(methodology[which]))
    except mrv.ReportErrors as exc:
        assert str(exc).startswith(f"{which}:") and "\n" not in str(exc)


def test_a_bundles_canonical_bytes_are_what_its_hash_covers() -> None:
    import hashlib

    b = mrv.bundle("SCGM-001-V01")
    assert hashlib.sha256(b.canonical()).hexdigest() == b.sha256
    assert b"\n" not in b.canonical() and "高寒草甸".encode() in b.canonical()  # UTF-8, unescaped
