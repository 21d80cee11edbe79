"""The factor library in SQL (footprint/store.py): the shipped rows are copied into the table
beside the imported ones, and the CLI and the API read the whole library from there: GET
/api/v1/emission-factors filters and pages in SQL, POST /api/v1/footprints and `ledger footprint
compute` use an imported row that supersedes a shipped one. Rows are immutable: a shipped row
edited in place is refused, never copied over its record. On SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

import footprint
from api.app import create_app
from certificates.context import ServiceContext
from certificates.db import create_schema
from certificates.settings import ServiceSettings
from chain.deploy import Deployment
from footprint import store
from footprint.library import COLUMNS, row_hash
from indexer.db import make_engine
from scripts.cli import app
from tests.footprint.test_import import shipped_line

runner = CliRunner()
HEADER = ",".join(COLUMNS)
SHIPPED = len(footprint.shipped().factors)  # 101 rows in footprint/factors/*.csv
# a sourced meal factor that replaces the illustrative 2.5 kg (ill-meal-CN@1) as the next row of the library
MEAL = "menu-meal-CN,1,meal,CN,,meal,1.8,CO2e,AR5,a canteen menu study (test),https://example.org/menu,,2026-11-30,,,false,"
HOUSEHOLD_MEALS = {
    "subject": "person",
    "region": "510100",
    "year": 2026,
    "lines": [{"activity": "meal", "quantity": 730, "unit": "meal"}],
}


def fresh(engine: Engine) -> Engine:
    with engine.begin() as conn:  # another test's drop_schema may have dropped the table and kept its version
        if not conn.dialect.has_table(conn, "footprint_factors"):
            conn.execute(text("DROP TABLE IF EXISTS alembic_version_footprint"))
    create_schema(engine)
    return engine


@pytest.fixture
def sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    engine = fresh(make_engine(url))
    yield engine
    engine.dispose()


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Engine]:
    engine = fresh(make_engine(postgres_url))
    yield engine
    engine.dispose()


def context(engine: Engine) -> ServiceContext:
    """The API's context around a real database; the footprint routes read nothing of the chain."""
    zero = "0x" + "00" * 20
    deployment = Deployment(31337, zero, zero, zero, 0, "0x" + "00" * 32, "", "", "", "", "", 0)
    return ServiceContext(engine, deployment, ServiceSettings())


def held(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(store.StoredFactor.origin, func.count()).group_by(store.StoredFactor.origin))
        return {str(origin): int(n) for origin, n in rows}


def test_the_shipped_rows_are_copied_in_once_and_read_back(sqlite: Engine) -> None:
    assert held(sqlite) == {}  # creating the schema writes no rows: a backup may restore into it
    library = store.synced(sqlite)
    assert held(sqlite) == {"shipped": SHIPPED}
    assert {r: f.document() for r, f in library.factors.items()} == {
        r: f.document() for r, f in footprint.shipped().factors.items()
    }
    # the hash of every row as read back is the hash its file gives it (what reports pin)
    assert {r: f.sha256 for r, f in library.factors.items()} == {
        r: f.sha256 for r, f in footprint.shipped().factors.items()
    }
    with sqlite.begin() as conn:
        assert store.sync_shipped(conn) == []  # a second reader copies nothing
    assert held(sqlite) == {"shipped": SHIPPED}


def test_a_listing_filters_and_pages_in_sql(sqlite: Engine) -> None:
    with TestClient(create_app(context(sqlite))) as api:
        page = api.get("/api/v1/emission-factors", params={"activity": "grid-electricity", "region": "510000"}).json()
        assert [(f["ref"], f["kgco2e_per_unit"], f["origin"]) for f in page["factors"]] == [
            ("cn-grid-2021-510000@1", "0.1255", "shipped"),
            ("cn-grid-2022-510000@1", "0.1404", "shipped"),
        ]
        year = api.get("/api/v1/emission-factors", params={"activity": "grid-electricity", "year": 2022}).json()
        # 2022: the national average, the seven grid regions and 30 provinces (no 西藏)
        assert year["total"] == 38 and {f["year"] for f in year["factors"]} == {2022}
        every, offset = [], 0
        while offset is not None:
            got = api.get("/api/v1/emission-factors", params={"limit": 40, "offset": offset}).json()
            assert got["count"] == len(got["factors"]) <= 40 and got["total"] == SHIPPED
            every += [f["ref"] for f in got["factors"]]
            offset = got["next_offset"]
        assert len(every) == SHIPPED == len(set(every)) and every == sorted(every, key=lambda r: r.encode())
        assert api.get("/api/v1/emission-factors", params={"limit": 0}).status_code == 422
    assert held(sqlite) == {"shipped": SHIPPED}  # the API copied the shipped rows in


def supersede_meal(tmp_path: Path) -> Path:
    """The shipped illustrative meal row again (same values) naming its successor, and the successor."""
    path = tmp_path / "menu.csv"
    old = shipped_line("ill-meal-CN").replace(",2026-11-30,,,true,", ",2026-11-30,,menu-meal-CN@1,true,")
    path.write_text("\n".join([HEADER, old, MEAL]) + "\n", encoding="utf-8")
    return path


def test_an_imported_row_is_used_by_the_api_and_the_cli(sqlite: Engine, tmp_path: Path) -> None:
    imported = runner.invoke(app, ["factors", "import", str(supersede_meal(tmp_path)), "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout) == {"added": ["menu-meal-CN@1"], "annotated": ["ill-meal-CN@1"], "unchanged": []}
    assert held(sqlite) == {"shipped": SHIPPED, "imported": 1}
    with TestClient(create_app(context(sqlite))) as api:
        listed = api.get("/api/v1/emission-factors", params={"activity": "meal"}).json()
        assert [(f["ref"], f["origin"]) for f in listed["factors"]] == [("menu-meal-CN@1", "imported")]
        both = api.get("/api/v1/emission-factors", params={"activity": "meal", "include_superseded": True}).json()
        assert [(f["ref"], f["superseded_by"]) for f in both["factors"]] == [
            ("ill-meal-CN@1", "menu-meal-CN@1"),
            ("menu-meal-CN@1", None),
        ]
        # 730 meals × 1.8 = 1,314 kg (the shipped 2.5 gave 1,825)
        answer = api.post("/api/v1/footprints", json=HOUSEHOLD_MEALS).json()
        assert answer["report"]["total_kgco2e"] == 1_314
        assert answer["report"]["lines"][0]["factor"]["ref"] == "menu-meal-CN@1"
    path = tmp_path / "meals.json"
    path.write_text(json.dumps(HOUSEHOLD_MEALS), encoding="utf-8")
    cli = runner.invoke(app, ["footprint", "compute", str(path), "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout) == answer
    # a report pinned to the superseded row still recomputes as it was made: 730 × 2.5 = 1,825
    old = footprint.compute(HOUSEHOLD_MEALS)
    assert old.total_kg == 1_825 and footprint.check(old.output(), store.synced(sqlite)).sha256 == old.sha256


def test_a_shipped_row_edited_in_place_is_refused_not_copied_over(sqlite: Engine, factors_copy: Path) -> None:
    store.synced(sqlite)
    grid = factors_copy / "grid_electricity.csv"
    body = grid.read_text(encoding="utf-8")
    grid.write_text(body.replace("510000,2022,kWh,0.1404,", "510000,2022,kWh,0.1300,"), encoding="utf-8")
    edited = footprint.load(factors_copy)
    with pytest.raises(footprint.FootprintError) as caught, sqlite.begin() as conn:
        store.sync_shipped(conn, edited)
    said = str(caught.value)
    assert (
        said.startswith("grid_electricity.csv:") and "cn-grid-2022-510000@1 differs from the row the database" in said
    )
    assert "publish the change as the next version" in said and "\n" not in said
    with pytest.raises(footprint.FootprintError, match="cn-grid-2022-510000@1 differs"), sqlite.connect() as conn:
        store.combined(conn, edited)
    with sqlite.connect() as conn:  # the record is as first copied
        assert store.combined(conn).factor("cn-grid-2022-510000@1").kgco2e_per_unit == Decimal("0.1404")


def test_a_new_shipped_row_is_copied_in_on_the_next_read(sqlite: Engine, factors_copy: Path) -> None:
    store.synced(sqlite)
    with (factors_copy / "lodging_catering.csv").open("a", encoding="utf-8") as f:
        f.write(MEAL.replace("menu-meal-CN", "menu-meal-510000").replace(",meal,CN,", ",meal,510000,") + "\n")
    library = store.synced(sqlite, footprint.load(factors_copy))
    assert library.factor("menu-meal-510000@1").region == "510000"
    assert held(sqlite) == {"shipped": SHIPPED + 1}


def test_the_library_in_postgresql(postgres: Engine) -> None:
    suffix = uuid.uuid4().hex[:8]  # the database is shared: this test's rows only
    row = f"pg-sql-{suffix},1,meal,520000,2097,meal,2.2,CO2e,AR5,a menu study (test),https://example.org/m,,2026-11-30,,,false,"
    try:
        library = store.synced(postgres)
        assert library.factor("cn-grid-2022-510000@1").kgco2e_per_unit == Decimal("0.1404")
        with postgres.begin() as conn:
            assert store.import_factors(conn, f"{HEADER}\n{row}\n".encode(), "pg.csv").added == [f"pg-sql-{suffix}@1"]
        with TestClient(create_app(context(postgres))) as api:
            sichuan = api.get("/api/v1/emission-factors", params={"activity": "grid-electricity", "region": "510000"})
            assert [f["ref"] for f in sichuan.json()["factors"]] == ["cn-grid-2021-510000@1", "cn-grid-2022-510000@1"]
            mine = api.get("/api/v1/emission-factors", params={"region": "520000", "year": 2097}).json()
            assert [(f["ref"], f["origin"]) for f in mine["factors"]] == [(f"pg-sql-{suffix}@1", "imported")]
            # 10 meals in 贵州 in 2097 × 2.2 = 22 kg, from the imported row
            meals = {
                "subject": "person",
                "region": "520000",
                "year": 2097,
                "lines": [{"activity": "meal", "quantity": 10, "unit": "meal"}],
            }
            answer = api.post("/api/v1/footprints", json=meals).json()
            assert answer["report"]["total_kgco2e"] == 22
            grid = api.get("/api/v1/emission-factors", params={"activity": "grid-electricity", "limit": 5}).json()
            with postgres.connect() as conn:
                again = store.page(conn, activity="grid-electricity", limit=5)
            assert [f["ref"] for f in grid["factors"]] == [f.ref for f, _ in again.rows]
            assert [f.ref for f, _ in again.rows] == sorted((f.ref for f, _ in again.rows), key=str.encode)
    finally:
        with postgres.begin() as conn:
            conn.execute(text("DELETE FROM footprint_factors WHERE id = :id"), {"id": f"pg-sql-{suffix}"})


def test_the_migration_fills_the_columns_of_rows_held_before_it(tmp_path: Path) -> None:
    from alembic import command

    from certificates.db import _config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    migrations = Path(store.__file__).resolve().parent / "migrations"
    old_meal = next(csv.reader([shipped_line("ill-meal-CN")]))
    annotated = dict(zip(COLUMNS, old_meal, strict=True)) | {"superseded_by": "menu-meal-CN@1"}
    menu = dict(zip(COLUMNS, next(csv.reader([MEAL])), strict=True))
    try:
        with engine.begin() as conn:  # the table as the first migration made it, with an import in it
            command.upgrade(_config(conn, migrations), "f0001")
            for raw, sha, name in (
                (menu, row_hash(menu), "menu.csv"),
                (annotated, row_hash(annotated), "menu.csv"),
            ):
                conn.execute(
                    text("INSERT INTO footprint_factors VALUES (:id, :v, :sha, :file, :body)"),
                    {"id": raw["id"], "v": int(raw["version"]), "sha": sha, "file": name, "body": json.dumps(raw)},
                )
        create_schema(engine)  # f0002
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, origin, activity, region, year, superseded_by, illustrative FROM footprint_factors ORDER BY id"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("ill-meal-CN", "shipped", "meal", "CN", None, "menu-meal-CN@1", True),
            ("menu-meal-CN", "imported", "meal", "CN", None, "", False),
        ]
        library = store.synced(engine)
        assert library.factor("ill-meal-CN@1").superseded_by == "menu-meal-CN@1"
        assert held(engine) == {"shipped": SHIPPED, "imported": 1}
    finally:
        engine.dispose()


def test_ledger_factors_list_filters_by_year(sqlite: Engine) -> None:
    result = runner.invoke(
        app, ["factors", "list", "--json", "--activity", "grid-electricity", "--region", "510000", "--year", "2021"]
    )
    assert result.exit_code == 0, result.output
    assert [(f["ref"], f["kgco2e_per_unit"]) for f in json.loads(result.stdout)] == [
        ("cn-grid-2021-510000@1", "0.1255")
    ]
    assert held(sqlite) == {"shipped": SHIPPED}  # the CLI reads the library from the database, copied in first
