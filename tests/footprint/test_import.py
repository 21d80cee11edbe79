"""`ledger factors import` into the registry's database (footprint/store.py, its own migration):
a sourced row is added and listed with the shipped library; a row without a source, or a changed
row under a known id@version, is refused and nothing of the file is written; a newer imported row
supersedes a shipped illustrative one, whose hash (what reports pin) does not change; the same
on PostgreSQL."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

import footprint
from certificates.db import create_schema
from footprint import store
from footprint.library import COLUMNS, FACTORS_DIR
from indexer.db import make_engine
from scripts.cli import app
from tests.footprint.conftest import INPUTS

runner = CliRunner()
HEADER = ",".join(COLUMNS)
GAS = (
    "ndrc-natural-gas-CN,1,natural-gas,CN,,m3,2.1622,CO2,AR5,a fuel default (test),https://example.org/1722,,"
    "2026-11-30,,,false,imported in a test"
)


def shipped_line(ref_id: str) -> str:
    for path in sorted(FACTORS_DIR.glob("*.csv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(ref_id + ","):
                return line
    raise AssertionError(ref_id)


def csv_file(tmp_path: Path, name: str, *rows: str) -> str:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def listed(*args: str) -> dict[str, dict[str, object]]:
    result = runner.invoke(app, ["factors", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    return {f["ref"]: f for f in json.loads(result.stdout)}


def test_an_imported_row_is_listed_with_the_shipped_library(database: str, tmp_path: Path) -> None:
    assert len(listed()) == 101 and "ndrc-natural-gas-CN@1" not in listed("--all")  # no database file yet
    shipped_gas = shipped_line("ill-natural-gas-CN")
    superseding = shipped_gas.replace(",2026-11-30,,,true,", ",2026-11-30,,ndrc-natural-gas-CN@1,true,")
    assert superseding != shipped_gas
    result = runner.invoke(app, ["factors", "import", csv_file(tmp_path, "gas.csv", GAS, superseding), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "added": ["ndrc-natural-gas-CN@1"],
        "annotated": ["ill-natural-gas-CN@1"],
        "unchanged": [],
    }
    current = listed("--activity", "natural-gas")
    assert (
        list(current) == ["ndrc-natural-gas-CN@1"] and current["ndrc-natural-gas-CN@1"]["kgco2e_per_unit"] == "2.1622"
    )
    every = listed("--activity", "natural-gas", "--all")
    old = every["ill-natural-gas-CN@1"]
    assert old["superseded_by"] == "ndrc-natural-gas-CN@1"
    assert old["sha256"] == footprint.shipped().factor("ill-natural-gas-CN@1").sha256  # a report's pin survives
    table = runner.invoke(app, ["factors", "list", "--activity", "natural-gas"], env={"COLUMNS": "200"})
    assert "ndrc-natural-gas-CN@1+" in table.stdout and "+ imported" in table.stdout
    shown = runner.invoke(app, ["factors", "show", "ndrc-natural-gas-CN@1", "--json"])
    assert json.loads(shown.stdout)["source_url"] == "https://example.org/1722"

    again = runner.invoke(app, ["factors", "import", csv_file(tmp_path, "gas.csv", GAS, superseding), "--json"])
    assert json.loads(again.stdout)["unchanged"] == ["ndrc-natural-gas-CN@1", "ill-natural-gas-CN@1"]


def test_compute_uses_the_imported_row_and_recomputes_from_its_pin(database: str, tmp_path: Path) -> None:
    superseding = shipped_line("ill-natural-gas-CN").replace(",,true,", ",ndrc-natural-gas-CN@1,true,")
    assert runner.invoke(app, ["factors", "import", csv_file(tmp_path, "gas.csv", GAS, superseding)]).exit_code == 0
    # 1,200 kWh × 0.1404 = 169; 200 m³ × 2.1622 (imported) = 432.44 → 433; 8,000 pkm × 0.20* = 1,600: 2,202 kg
    result = runner.invoke(app, ["footprint", "compute", str(INPUTS / "chengdu_household.json"), "--json"])
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    gas = output["report"]["lines"][1]
    assert (gas["factor"]["ref"], gas["kgco2e"]) == ("ndrc-natural-gas-CN@1", 433)
    assert output["report"]["total_kgco2e"] == 2_202
    report = tmp_path / "report.json"
    report.write_text(result.stdout, encoding="utf-8")
    again = runner.invoke(app, ["footprint", "recompute", str(report)])
    assert again.exit_code == 0 and "total 2,202 kgCO2e" in " ".join(again.stdout.split())


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [GAS.replace("a fuel default (test),https://example.org/1722", ",")],
            "gas.csv:3: factor ndrc-natural-gas-CN cites no source; name the publication, or mark it illustrative",
        ),
        (
            [GAS.replace("https://example.org/1722", "")],
            "gas.csv:3: factor ndrc-natural-gas-CN has no source_url; give the public address",
        ),
        ([GAS, GAS], "gas.csv:4: ndrc-natural-gas-CN@1 appears twice"),
        (
            [shipped_line("cn-grid-2022-510000").replace("0.1404", "0.555")],
            "cn-grid-2022-510000@1 is already shipped with other values, and a version never changes; "
            "give the changed row version 2",
        ),
        ([GAS], "both current for natural-gas CN"),  # the shipped illustrative row must be superseded too
        ([GAS.replace(",CN,", ",XX,")], "region 'XX' is not in regions.csv"),
        (
            [GAS.replace(",2026-11-30,,,false,", ",2026-11-30,,nope@1,false,")],
            "superseded by nope@1, which is not a row",
        ),
    ],
)
def test_a_bad_file_is_refused_whole(database: str, tmp_path: Path, rows: list[str], message: str) -> None:
    good = "ok-meal-CN-2030,1,meal,CN,2030,meal,2.4,CO2e,AR5,a menu study,https://example.org/meal,,2026-11-30,,,false,"
    result = runner.invoke(app, ["factors", "import", csv_file(tmp_path, "gas.csv", good, *rows)])
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split())
    assert "ok-meal-CN-2030@1" not in listed("--all")  # nothing of the file was written


def test_a_changed_imported_row_is_refused(database: str, tmp_path: Path) -> None:
    superseding = shipped_line("ill-natural-gas-CN").replace(",,true,", ",ndrc-natural-gas-CN@1,true,")
    assert runner.invoke(app, ["factors", "import", csv_file(tmp_path, "a.csv", GAS, superseding)]).exit_code == 0
    changed = runner.invoke(app, ["factors", "import", csv_file(tmp_path, "b.csv", GAS.replace("2.1622", "2.17"))])
    assert changed.exit_code == 1
    assert "ndrc-natural-gas-CN@1 is already imported with other values" in " ".join(changed.output.split())
    assert listed("--activity", "natural-gas")["ndrc-natural-gas-CN@1"]["kgco2e_per_unit"] == "2.1622"


def test_not_a_factor_table(database: str, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, ["factors", "import", str(other)])
    assert result.exit_code == 1 and "other.csv lacks column id, version" in " ".join(result.output.split())
    missing = runner.invoke(app, ["factors", "import", str(tmp_path / "absent.csv")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_import_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    with engine.begin() as conn:  # another test's drop_schema may have dropped the table and kept its version
        if not inspect(conn).has_table("footprint_factors"):
            conn.execute(text("DROP TABLE IF EXISTS alembic_version_footprint"))
    create_schema(engine)
    suffix = uuid.uuid4().hex[:8]  # the database is shared: this test's rows only
    row = (
        f"pg-test-{suffix},1,meal,CN,2099,meal,2.4,CO2e,AR5,a menu study,https://example.org/meal,,2026-11-30,,,false,"
    )
    data = f"{HEADER}\n{row}\n".encode()
    try:
        with engine.begin() as conn:
            assert store.import_factors(conn, data, "pg.csv").added == [f"pg-test-{suffix}@1"]
        with engine.begin() as conn:
            assert store.import_factors(conn, data, "pg.csv").unchanged == [f"pg-test-{suffix}@1"]
            with pytest.raises(footprint.FootprintError, match="already imported with other values"):
                store.import_factors(conn, data.replace(b",2.4,", b",2.5,"), "pg.csv")
        with engine.connect() as conn:
            assert store.combined(conn).factor(f"pg-test-{suffix}@1").kgco2e_per_unit == Decimal("2.4")
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM footprint_factors WHERE id = :id"), {"id": f"pg-test-{suffix}"})
        engine.dispose()
