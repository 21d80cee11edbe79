"""Activity data as CSV: `ledger footprint compute FILE.csv` and POST /api/v1/footprints with
Content-Type text/csv give the same report, byte for byte, as the same data in JSON (the Chengdu
conference: 67,808 kg, docs/footprint.md); a mistake is one line naming the row and the column, a
422 problem over HTTP, never a traceback or a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import footprint
from api.app import create_app
from api.problems import PROBLEM
from api.schemas.problems import Problem
from footprint import csvin
from scripts.cli import app
from tests.footprint.conftest import INPUTS, example

runner = CliRunner()
CONFERENCE_CSV = INPUTS / "chengdu_conference.csv"
HEADER = "subject,region,year,activity,quantity,unit,passengers,category,label,line_region,line_year,factor"


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    with TestClient(create_app(None)) as client:  # type: ignore[arg-type]  # the footprint routes need no registry
        yield client


def test_the_conference_as_csv_is_the_same_report_as_json() -> None:
    parsed = csvin.load(CONFERENCE_CSV)
    from_csv = footprint.compute(parsed.data, where=parsed.where)
    from_json = footprint.compute(example("chengdu_conference.json"))
    # 2,808 + 46,500 + 3,600 + 2,400 + 9,000 + 2,500 + 1,000 = 67,808, as in JSON
    assert from_csv.total_kg == 67_808
    assert from_csv.output() == from_json.output()


def test_ledger_footprint_compute_reads_a_csv_file() -> None:
    result = runner.invoke(app, ["footprint", "compute", str(CONFERENCE_CSV), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == footprint.compute(example("chengdu_conference.json")).output()


def test_post_footprints_takes_text_csv(api: TestClient) -> None:
    response = api.post(
        "/api/v1/footprints", content=CONFERENCE_CSV.read_bytes(), headers={"Content-Type": "text/csv; charset=utf-8"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == footprint.compute(example("chengdu_conference.json")).output()


def sheet(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


FIRST = "event,510100,2026,grid-electricity,100,kWh,,,,,,"


def test_line_overrides_keep_every_digit() -> None:
    raw = sheet(FIRST, ",,,grid-electricity,0.1234567890123456789,MWh,,,,510000,2021,")
    parsed = csvin.parse(raw, "x.csv")
    line = footprint.compute(parsed.data, where=parsed.where).document["lines"][1]
    # 0.1234567890123456789 MWh = 123.4567890123456789 kWh × 0.1255 (四川 2021)
    assert line["factor_quantity"] == "123.4567890123456789" and line["factor"]["ref"] == "cn-grid-2021-510000@1"
    assert line["exact_kgco2e"] == "15.49382702104938270195" and line["kgco2e"] == 16


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (sheet(FIRST, ",,,grid-electricity,-5,kWh,,,,,,"), "row 3, column quantity: quantity -5 is negative"),
        (sheet(FIRST, ",,,grid-electricity,lots,kWh,,,,,,"), "row 3, column quantity 'lots' is not a number"),
        (sheet(FIRST, ",,,grid-electricity,5,furlongs,,,,,,"), "row 3, column unit: unit 'furlongs' is unknown"),
        (sheet(FIRST, ",,,banquet,5,meal,,,,,,"), "row 3, column activity: unknown activity 'banquet'"),
        (sheet(FIRST, ",,,flight-economy,3100,km,many,,,,,"), "row 3, column passengers: passengers is not a whole"),
        (sheet(FIRST, ",,,grid-electricity,5,kWh,,waste,,,,"), "row 3, column category: grid-electricity does not"),
        (sheet(FIRST, ",,,grid-electricity,5,kWh,,,,540000,,"), "row 3, column line_region: no grid-electricity"),
        (sheet(FIRST, ",,,grid-electricity,5,kWh,,,,,1980,"), "row 3, column line_year 1980 is not a year"),
        (sheet(FIRST, ",,,grid-electricity,5,kWh,,,,,,nope@1"), "row 3, column factor: no factor 'nope@1'"),
        (sheet(FIRST, "person,,,meal,5,meal,,,,,,"), "row 3, column subject: 'person' differs from row 2's 'event'"),
        (sheet("event,510100,1900,meal,5,meal,,,,,,"), "row 2, column year 1900 is not a year"),
        (sheet("event,999999,2026,meal,5,meal,,,,,,"), "row 2, column region '999999' is not a GB/T 2260 code"),
        (sheet("shop,510100,2026,meal,5,meal,,,,,,"), "row 2, column subject 'shop' is not one of"),
        (sheet(FIRST, header=HEADER + ",colour"), "row 1, column 'colour' is unknown"),
        (
            sheet("event,510100,2026,meal,5", header="subject,region,year,activity,quantity"),
            "row 1 lacks column 'unit'",
        ),
        (sheet(header=HEADER), "holds a header and no rows"),
        (sheet(FIRST + ",extra"), "row 2 has 13 cells, the header 12"),
        (b"", "is empty; give a header row"),
        ("subject\n\u00e9".encode("latin-1"), "is not UTF-8 text"),
    ],
)
def test_a_mistake_names_its_row_and_column(api: TestClient, raw: bytes, message: str) -> None:
    with pytest.raises(footprint.FootprintError) as caught:
        parsed = csvin.parse(raw, "activity.csv")
        footprint.compute(parsed.data, where=parsed.where)
    said = str(caught.value)
    assert message in said and "\n" not in said, said
    # the API answers the same line as a 422 problem document
    response = api.post("/api/v1/footprints", content=raw, headers={"Content-Type": "text/csv"})
    assert response.status_code == 422 and response.headers["content-type"].startswith(PROBLEM)
    problem = Problem.model_validate_json(response.content, strict=True)
    assert message in problem.detail and problem.title == "Invalid activity data"


def test_the_cli_prints_the_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(sheet(FIRST, ",,,grid-electricity,-5,kWh,,,,,,"))
    result = runner.invoke(app, ["footprint", "compute", str(path)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    said: Any = result.stderr.strip()
    assert said.startswith("error: row 3, column quantity: quantity -5 is negative") and "\n" not in said


def test_garbled_sheets_are_one_line_refusals_never_a_crash(api: TestClient) -> None:
    """Every row of the worked example cut, doubled, quoted wrongly or salted with bytes: either a report or
    a FootprintError of one line, and over HTTP a 200 or a 422, never a 5xx."""
    import random

    rng = random.Random(16)
    base = CONFERENCE_CSV.read_bytes()
    salt = [b'"', b",", b"\n", b"\r", b"\x00", b"\xff", b"-", b"1e999", "万".encode(), b";", b"\t"]
    outcomes = {"report": 0, "refused": 0}
    for _ in range(300):
        raw = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(raw))
            if rng.random() < 0.5:
                raw[at:at] = rng.choice(salt)
            else:
                del raw[at : at + rng.randint(1, 12)]
        try:
            parsed = csvin.parse(bytes(raw), "garbled.csv")
            footprint.compute(parsed.data, where=parsed.where)
            outcomes["report"] += 1
        except footprint.FootprintError as exc:
            assert "\n" not in str(exc), str(exc)
            outcomes["refused"] += 1
        status = api.post("/api/v1/footprints", content=bytes(raw), headers={"Content-Type": "text/csv"}).status_code
        assert status in (200, 422), status
    assert outcomes["refused"] > 100 and outcomes["report"] > 10, outcomes
