"""Hostile use of the parts of footprint accounting built for issue 16: activity data as CSV, the
factor library in SQL, the product and building calculators, the breakdown chart. Each test here
failed before its fix; its docstring says how. What they pin: bad input is one line naming the
problem and the fix (a 422 over HTTP, never a 5xx), a line's kilograms are never understated, the
library never loses its current row to a supersession loop, and a chart draws only the report its
document commits to."""

from __future__ import annotations

import copy
import dataclasses
import json
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import col
from typer.testing import CliRunner

import footprint
from api.app import create_app
from certificates.db import create_schema
from certificates.document import REPORT_FIELD, REPORT_MEMBER
from certificates.footprint_report import report_problems
from certificates.render.breakdown import breakdown_of, disclosed_breakdown, svg
from chain.canonical import canonical_json, sha256_hex
from footprint import csvin, store
from footprint.library import COLUMNS
from indexer.db import make_engine
from scripts.cli import app
from scripts.console import console, err_console
from tests.footprint.test_import import shipped_line

V1 = "/api/v1"
CSV = {"Content-Type": "text/csv"}
HEADER = "subject,region,year,activity,quantity,unit"


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    # a 5xx must come back as a response here, not be raised into the test
    with TestClient(create_app(None), raise_server_exceptions=False) as client:  # type: ignore[arg-type]  # no registry needed
        yield client


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    create_schema(engine)
    yield engine
    engine.dispose()


def event(quantity: Any, unit: str = "kWh", activity: str = "grid-electricity") -> dict[str, Any]:
    return {
        "subject": "event",
        "region": "510100",
        "year": 2026,
        "lines": [{"activity": activity, "quantity": quantity, "unit": unit}],
    }


def test_a_product_units_cell_of_a_superscript_digit_is_a_422_not_a_500(api: TestClient) -> None:
    """Before: the units check took "²" for a whole number (str.isdigit is true of it) and int("²")
    raised a bare ValueError: `ledger footprint compute` printed a traceback and POST /footprints
    answered 500."""
    sheet = f"{HEADER},units\nproduct,510100,2026,grid-electricity,1,kWh,²\n".encode()
    with pytest.raises(footprint.FootprintError, match=r"row 2, column units '²' is not a whole number"):
        parsed = csvin.parse(sheet, "chairs.csv")
        footprint.compute(parsed.data, where=parsed.where)
    answer = api.post(f"{V1}/footprints", content=sheet, headers=CSV)
    assert answer.status_code == 422, answer.text
    assert "column units '²' is not a whole number" in answer.json()["detail"]


def test_a_quantity_with_more_than_28_digits_is_not_rounded_down() -> None:
    """Before: the arithmetic ran in Python's default decimal context (28 significant digits), so a
    quantity of up to 40 characters was rounded before the ceiling: 1000000.000000000000000000000000000001
    kWh × 0.1404 gave exact 140400 and 140,400 kg (understated by one), the report's quantity read
    "1000000", and the certificate verifier, which multiplies exactly, found the line wrong."""
    quantity = "1000000.000000000000000000000000000001"  # 1,000,000 kWh and 10^-30 kWh more
    line = footprint.compute(event(quantity)).document["lines"][0]
    assert line["factor"]["ref"] == "cn-grid-2022-510000@1" and line["factor"]["kgco2e_per_unit"] == "0.1404"
    # 1,000,000 × 0.1404 = 140,400; 10^-30 × 0.1404 = 1.404 × 10^-31 (30 zeros, then 1404): up to 140,401
    assert line["quantity"] == quantity
    assert line["exact_kgco2e"] == "140400.0000000000000000000000000000001404"
    assert line["kgco2e"] == 140_401


@pytest.mark.parametrize("quantity", ["1_000", "１００", "٣", "1_0.5"])
def test_a_quantity_is_ascii_digits_as_written(quantity: str) -> None:
    """Before: Decimal took "1_000" as 1000 (Python's digit grouping), full-width "１００" as 100 and
    Arabic-Indic "٣" as 3, in JSON and CSV alike, while the report printed plain "1000": a typo such
    as "1_5" became 15 without a word, and a year written in full-width digits was refused."""
    with pytest.raises(footprint.FootprintError, match=r"lines\[0\]\.quantity .* write ASCII digits"):
        footprint.compute(event(quantity))
    parsed = csvin.parse(f"{HEADER}\nevent,510100,2026,grid-electricity,{quantity},kWh\n".encode(), "x.csv")
    with pytest.raises(footprint.FootprintError, match=r"row 2, column quantity .* write ASCII digits"):
        footprint.compute(parsed.data, where=parsed.where)


def import_rows(engine: Engine, *rows: str) -> store.Imported:
    data = ("\n".join([",".join(COLUMNS), *rows]) + "\n").encode()
    with engine.begin() as conn:
        store.sync_shipped(conn)
        return store.import_factors(conn, data, "loop.csv")


def meal(id_: str, superseded_by: str = "", activity: str = "meal", unit: str = "meal") -> str:
    return (
        f"{id_},1,{activity},CN,,{unit},1.8,CO2e,AR5,a canteen menu study (test),https://example.org/menu,,"
        f"2026-11-30,,{superseded_by},false,"
    )


ILL_MEAL = shipped_line("ill-meal-CN")


@pytest.mark.parametrize(
    "rows",
    [
        # A → B → A: neither is current, and meal in CN has no row left to choose
        (meal("loop-a-CN", "loop-b-CN@1"), meal("loop-b-CN", "loop-a-CN@1")),
        # a row superseded by itself
        (meal("self-CN", "self-CN@1"),),
        # the shipped meal row superseded by X, X by the shipped row: a loop through the shipped library
        (ILL_MEAL.replace(",2026-11-30,,,true,", ",2026-11-30,,x-meal-CN@1,true,"), meal("x-meal-CN", "ill-meal-CN@1")),
        # the shipped meal row "replaced" by a grid-electricity row: meal loses its only factor
        (
            ILL_MEAL.replace(",2026-11-30,,,true,", ",2026-11-30,,x-grid@1,true,"),
            meal("x-grid", activity="grid-electricity", unit="kWh").replace(",CN,,", ",CN,1999,"),
        ),
    ],
    ids=["a-b-a", "self", "through-shipped", "other-activity"],
)
def test_a_supersession_that_never_reaches_a_current_row_is_refused(sqlite: Engine, rows: tuple[str, ...]) -> None:
    """Before: every one of these imports was stored ("added"), since a superseded_by had only to name
    some row: a loop left an activity with no current factor (every person's meal line then failed
    "no meal factor"), and a row could be superseded by a row of another activity."""
    with pytest.raises(footprint.FootprintError, match=r"loop\.csv:\d+: .*superseded"):
        import_rows(sqlite, *rows)
    with sqlite.connect() as conn:  # nothing of the refused file was written
        imported = conn.execute(select(func.count()).where(col(store.StoredFactor.origin) == "imported")).scalar_one()
        annotated = conn.execute(select(func.count()).where(col(store.StoredFactor.superseded_by) != "")).scalar_one()
    assert (imported, annotated) == (0, 0)
    assert [f.ref for f in store.synced(sqlite).of("meal") if f.current] == ["ill-meal-CN@1"]


def test_a_floor_area_below_a_square_metre_is_refused() -> None:
    """Before: floor_area_m2 had to be above 0 only: 1e-9 m² turned a shop's 1,685 kg year into
    1,684,800,000,000 kg per m² without a word (the units were wrong, as MAX_TOTAL_KG says of totals)."""
    data = {
        "subject": "building",
        "region": "510100",
        "year": 2026,
        "floor_area_m2": "1e-9",
        "lines": [{"activity": "grid-electricity", "quantity": 12000, "unit": "kWh"}],
    }
    with pytest.raises(footprint.FootprintError, match=r"floor_area_m2 0\.000000001 must be at least 1"):
        footprint.compute(data)
    # 12,000 kWh × 0.1404 = 1,684.8 kg over 120 m² = 14.04 kg per m² and year
    shop = footprint.compute(data | {"floor_area_m2": 120}).document["building"]
    assert shop["operational_kgco2e_per_m2_year"] == "14.04"


def committed(report: dict[str, Any]) -> dict[str, Any]:
    """A document disclosing `report` as a certificate does: the report's hash opened, the report beside it."""
    sha = sha256_hex(canonical_json(report))
    return {"disclosed": {REPORT_FIELD: {"value": sha, "salt": "00" * 16}}, REPORT_MEMBER: report}


CONFERENCE = Path(__file__).resolve().parents[1] / "footprint" / "inputs" / "chengdu_conference.json"


def test_the_breakdown_draws_only_the_report_the_document_commits_to(api: TestClient) -> None:
    """Before: POST /footprints/breakdown (and the PDF, by the same function) drew whatever report a
    document carried: travel changed from 52,500 to 5 kg after the hash was committed was drawn as
    5 kg and a share of 0.0%, a 200 with nothing saying the numbers were not the committed ones."""
    report = footprint.compute(json.loads(CONFERENCE.read_text(encoding="utf-8"))).document
    doc = committed(report)
    assert api.post(f"{V1}/footprints/breakdown", json=doc).status_code == 200
    tampered = copy.deepcopy(doc)
    travel = next(c for c in tampered[REPORT_MEMBER]["categories"] if c["category"] == "travel")
    travel["kgco2e"] = 5
    assert disclosed_breakdown(tampered) is None
    answer = api.post(f"{V1}/footprints/breakdown", json=tampered)
    assert answer.status_code == 422, answer.text
    assert "not the committed" in answer.json()["detail"] and "5 kg" not in answer.text


def test_a_label_with_a_control_character_still_draws_well_formed_svg() -> None:
    """Before: labels were escaped for <, > and &, but a control character (U+0001) or a bidi override
    (U+202E) went into the SVG as it was: the image was not well-formed XML (the verify page's
    DOMParser drew an error instead of the chart), and an override turned the title's text around."""
    report = footprint.compute(json.loads(CONFERENCE.read_text(encoding="utf-8"))).document
    report["categories"][0]["zh"] = "电\x01力\u202e</text><script>alert(1)</script>"
    report["subject"] = "event\u202e"
    found = breakdown_of(report)
    assert found is not None
    image = svg(found)
    root = ET.fromstring(image)  # well-formed: raised ParseError before
    texts = "".join(root.itertext())
    assert "\u202e" not in texts and "\x01" not in texts and "电力</text><script>alert(1)</script>" in texts
    assert root.find("{http://www.w3.org/2000/svg}script") is None


def test_a_csv_body_is_read_in_the_charset_its_content_type_declares(api: TestClient) -> None:
    """Before: the charset parameter was ignored: a sheet Excel saved as GBK (the default of a Chinese
    Excel's "CSV (逗号分隔)"), sent as text/csv; charset=gbk, was refused as "not UTF-8 text", and
    a charset the server cannot read was never named as the problem."""
    sheet = f"{HEADER},label\nevent,510100,2026,grid-electricity,100,度,会场用电\n"
    utf8 = api.post(f"{V1}/footprints", content=sheet.encode(), headers=CSV)
    assert utf8.status_code == 200, utf8.text
    # 100 kWh × 0.1404 = 14.04, up to 15 kg; the label read back as written
    assert utf8.json()["report"]["total_kgco2e"] == 15 and utf8.json()["report"]["lines"][0]["label"] == "会场用电"
    gbk = api.post(f"{V1}/footprints", content=sheet.encode("gbk"), headers={"Content-Type": "text/csv; charset=GBK"})
    assert gbk.status_code == 200, gbk.text
    assert gbk.json() == utf8.json()
    unknown = api.post(f"{V1}/footprints", content=sheet.encode(), headers={"Content-Type": "text/csv; charset=koi8-r"})
    assert unknown.status_code == 422 and "charset 'koi8-r'" in unknown.json()["detail"]


def grid_row(**cells: str) -> str:
    row = dict.fromkeys(COLUMNS, "") | {
        "id": "odd-grid-510000",
        "version": "1",
        "activity": "grid-electricity",
        "region": "510000",
        "year": "2031",
        "unit": "kWh",
        "kgco2e_per_unit": "0.14",
        "gases": "CO2",
        "gwp_set": "none",
        "source": "a test row",
        "source_url": "https://example.org/grid",
        "valid_from": "2026-11-30",
        "illustrative": "false",
    }
    return ",".join((row | cells)[c] for c in COLUMNS)


@pytest.mark.parametrize(
    ("column", "cell"),
    [
        ("version", "２"),  # full-width: int() took it, the ref said @2 and the hashed text "２"
        ("version", "0"),
        ("version", "-1"),  # an id@-1 no pin can name as the next version
        ("year", "２０３１"),
        ("kgco2e_per_unit", "0.1_4"),  # Decimal's digit grouping: 0.14
        ("kgco2e_per_unit", "1e999999"),  # every 四川 2031 report a 500: its kilograms have a million digits
        ("kgco2e_per_unit", "1e-999999"),  # every line that chose it a million zeros long
        ("uncertainty_pct", "５"),
    ],
)
def test_an_imported_factor_holds_plain_numbers_a_report_can_use(sqlite: Engine, column: str, cell: str) -> None:
    """Before: the import took every one of these (int() and Decimal() read full-width digits, "_",
    a version of 0 or -1, a factor of 10^999999): with the last, POST /footprints for 四川 in 2031
    answered 500 (int of a million-digit total, then a ValueError printing it)."""
    with pytest.raises(footprint.FootprintError, match=rf"loop\.csv:2: {column} {cell!r} "):
        import_rows(sqlite, grid_row(**{column: cell}))
    with sqlite.connect() as conn:
        assert conn.execute(select(func.count()).where(col(store.StoredFactor.origin) == "imported")).scalar_one() == 0
    # a library that holds such a row anyway (a shipped file edited by hand) is refused line by line, not a 500
    shipped = footprint.shipped()
    huge = dataclasses.replace(shipped.factors["cn-grid-2022-510000@1"], kgco2e_per_unit=Decimal("1e999999"))
    library = dataclasses.replace(shipped, factors=shipped.factors | {huge.ref: huge})
    with pytest.raises(footprint.FootprintError, match=r"lines\[0\]: the line comes to more than"):
        footprint.compute(event(1), library)


@pytest.mark.parametrize("zero", ["-0", "-0.0", "-0e5"])
def test_a_negative_zero_quantity_gives_a_report_a_certificate_can_rest_on(zero: str) -> None:
    """Before: "-0" passed the check for negative quantities (-0 < 0 is false) and the report printed
    quantity, factor_quantity and exact_kgco2e as "-0": the certificate check (report_problems), which
    reads plain decimals, refused the report as one whose "line 1 lacks its category, decimals or
    whole kgco2e", so `ledger certify --footprint-report` failed on a report `compute` had made."""
    data = event(zero) | {"lines": [*event(zero)["lines"], *event("100")["lines"]]}
    report = footprint.compute(data).document
    first = report["lines"][0]
    assert (first["quantity"], first["factor_quantity"], first["exact_kgco2e"], first["kgco2e"]) == ("0", "0", "0", 0)
    # 0 + 100 kWh × 0.1404 = 14.04, up to 15 kg
    assert report["total_kgco2e"] == 15
    assert report_problems(report, {"footprint_kg": 15}, "LargeEvent", {}) == []


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["footprint", "compute"], "huge.csv"),
        (["footprint", "compute"], "huge.json"),
        (["footprint", "recompute"], "huge.json"),
        (["factors", "import"], "huge.csv"),
    ],
)
def test_a_huge_file_is_refused_without_being_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], name: str
) -> None:
    """Before: the CLI read the whole file into memory and only then compared its size with the
    limit (2 MiB of activity data, 10 MiB of factors): a 256 MiB file held 256 MiB, a 10 GB export
    more memory than the machine has, and /dev/zero never ended."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    huge = tmp_path / name
    with huge.open("wb") as f:
        f.truncate(256 << 20)  # sparse: no disk, but 256 MiB of zero bytes to whoever reads it
    tracemalloc.start()
    try:
        result = CliRunner().invoke(app, [*args, str(huge)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 1, result.output
    assert f"{name} is over" in result.output and "Traceback" not in result.output
    assert peak < 64 << 20, f"{peak:,} bytes held"


def test_an_imported_factors_text_is_printed_as_written_not_as_markup(
    sqlite: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `ledger factors list` and `ledger factors show` handed an imported row's source to Rich
    as markup: "[/b]" (a closing tag that opens nothing) made both fail for every operator with
    "unexpected MarkupError", "[bold red]" restyled the table; and an id such as "[/x]-grid" or
    "a@b" (which no pin id@version can name) was stored."""
    monkeypatch.setenv("DATABASE_URL", str(sqlite.url))
    for each in (console, err_console):  # a table as wide as its content, whatever the terminal
        monkeypatch.setattr(each, "_width", 200)
    source = "a study [/b] [bold red]loud"
    table = tmp_path / "markup.csv"
    table.write_text(",".join(COLUMNS) + "\n" + grid_row(source=f'"{source}"') + "\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["factors", "import", str(table)]).exit_code == 0
    listed = runner.invoke(app, ["factors", "list", "--region", "510000", "--year", "2031"])
    assert listed.exit_code == 0, listed.output
    assert "odd-grid-510000@1+" in listed.output and "[/b]" in listed.output
    shown = runner.invoke(app, ["factors", "show", "odd-grid-510000@1"])
    assert shown.exit_code == 0, shown.output
    assert source in shown.output
    for bad in ("[/x]-grid", "a@b", "two words"):
        with pytest.raises(footprint.FootprintError, match=r"loop\.csv:2: id .* is not letters, digits"):
            import_rows(sqlite, grid_row(id=f'"{bad}"', year="2032"))
