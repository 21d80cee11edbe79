"""Reports and results stored content-addressed (mrv/store.py), by the same schema bring-up as the
certificates' (certificates/db.py), on SQLite and PostgreSQL: a put is idempotent, a result is found
by the hash a batch carries on chain, and stored bytes that no longer hash to their key are said so."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text, update

import mrv
from certificates.db import create_schema
from indexer.db import make_engine
from mrv import store
from mrv.readers import SECTIONS

REPORTS = Path(__file__).resolve().parent / "reports"
TABLES = {"mrv_reports", "mrv_results", "mrv_reversals"}


def computed(name: str = "grassland.csv") -> tuple[bytes, mrv.Result]:
    data = (REPORTS / name).read_bytes()
    report = mrv.parse_report(data, name)
    return data, mrv.compute(report, mrv.reference(report.methodology or "SCFM-001-V01@1"))


def sqlite(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'mrv.sqlite'}")
    create_schema(engine)
    return engine


def round_trip(engine: Engine) -> None:
    data, result = computed()
    with engine.begin() as conn:
        assert store.put(conn, data, result) == result.sha256
        store.put(conn, data, result)  # idempotent
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mrv_reports")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM mrv_results")).scalar() == 1
        stored = store.get(conn, "0x" + result.sha256.upper())  # as a batch's hash is written on chain
        assert store.get(conn, "0x" + "00" * 32) is None
    assert stored is not None and stored.problem is None
    assert stored.report == data and stored.quantity_kg == result.quantity_kg == 7_108_255
    assert stored.methodology == "SCGM-001-V01@1" and stored.document == result.document()
    assert stored.recompute().sha256 == result.sha256


def test_create_schema_brings_up_the_mrv_tables_and_a_put_round_trips_on_sqlite(tmp_path: Path) -> None:
    engine = sqlite(tmp_path)
    create_schema(engine)  # a second bring-up changes nothing
    names = set(inspect(engine).get_table_names())
    assert TABLES | {"alembic_version_mrv", "certificates", "batches"} <= names
    round_trip(engine)


def test_the_same_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_mrv, mrv_reports, mrv_results, mrv_reversals"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_footprint, footprint_factors"))
    create_schema(engine)
    try:
        round_trip(engine)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM mrv_results"))
            conn.execute(text("DELETE FROM mrv_reports"))
        engine.dispose()


def test_a_key_that_holds_other_bytes_is_refused_and_said(tmp_path: Path) -> None:
    engine = sqlite(tmp_path)
    data, result = computed()
    with engine.begin() as conn:
        store.put(conn, data, result)
    with pytest.raises(store.StoreError, match="another report"), engine.begin() as conn:
        store.put(conn, data + b"\n", result)
    with engine.begin() as conn:  # a row edited behind the registry's back
        conn.execute(update(store.StoredReport).values(body=data.replace(b"1.5,81", b"9.5,81")))
    with pytest.raises(store.StoreError, match="other bytes"), engine.begin() as conn:
        store.put(conn, data, result)
    with engine.connect() as conn:
        stored = store.get(conn, result.sha256)
    assert stored is not None and stored.problem is not None and "no longer hashes" in stored.problem
    with pytest.raises(store.StoreError, match="no longer hashes"):
        stored.recompute()


def test_a_result_without_its_report_cannot_recompute(tmp_path: Path) -> None:
    engine = sqlite(tmp_path)
    data, result = computed()
    with engine.begin() as conn:
        store.put(conn, data, result)
        conn.execute(text("DELETE FROM mrv_reports"))
    with engine.connect() as conn:
        stored = store.get(conn, result.sha256)
    assert stored is not None and stored.report is None
    with pytest.raises(store.StoreError, match="not stored"):
        stored.recompute()


def test_the_parsed_form_has_only_the_formats_sections_and_columns() -> None:
    """What the API serves of a report: measurements under the columns docs/mrv.md fixes (a report
    with any other column was refused at load), so no personal data can appear in it."""
    for name in ("grassland.csv", "forest.json", "wetland.csv"):
        data, _ = computed(name)
        sections = store.sections(data)
        assert set(sections) <= set(SECTIONS) and sections["report"][0]["project"].startswith("P-")
        columns = {k for records in sections.values() for r in records for k in r}
        allowed = {c for required, optional in mrv.report.COLUMNS.values() for c in required | optional}
        variables = {v for b in mrv.available() for v in mrv.bundle(*b).variables}
        assert columns <= allowed | variables, columns - allowed - variables


def test_reversals_add_up_per_batch(tmp_path: Path) -> None:
    engine = sqlite(tmp_path)
    data, result = computed("grassland_fire.csv")
    assert result.reversal_kg == 278_500  # AGB −0.03 t/ha × 1,000 ha × 0.47 × 44/12 × (1 + 4.0) + 20,000 kg fire
    with engine.begin() as conn:
        store.record_reversal(conn, 7, data, result)
        store.record_reversal(conn, 7, data, result)  # the same report charged twice counts once
    with engine.connect() as conn:
        assert store.reversals(conn) == {7: 278_500}
