"""The certificate service's migrations build exactly its models, on SQLite and PostgreSQL, on
top of the mirror's; a mirror rebuild leaves certificates and the log alone."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select
from sqlmodel import SQLModel

from accounts import tables as accounts_tables
from certificates.db import create_schema
from certificates.models import CertificateClaim
from indexer.db import drop_schema, make_engine, reset_mirror
from indexer.models import MethodologyRow

VERSION_TABLES = {
    "alembic_version",
    "alembic_version_api",
    "alembic_version_mrv",
    "alembic_version_footprint",
    "alembic_version_land",
    "alembic_version_offsets",
    "alembic_version_accounts",
}
# PostGIS's GiST expression index over the parcels' GeoJSON: made by land's migration only where PostGIS
# is installed (land/postgis.py), so no model declares it
DATABASE_ONLY_INDEXES = {"land_parcels_geom"}


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    create_schema(engine)
    create_schema(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    return [
        d
        for d in diff
        if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name in VERSION_TABLES)
        and not (isinstance(d, tuple) and d[0] == "remove_index" and d[1].name in DATABASE_ONLY_INDEXES)
    ]


def test_migrations_match_the_models_on_sqlite(tmp_path) -> None:
    assert _diff(f"sqlite:///{tmp_path / 'schema.sqlite'}") == []


def test_migrations_match_the_models_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    drop_schema(engine)
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_api"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_mrv, mrv_reports, mrv_results, mrv_reversals"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_footprint, footprint_factors"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_land, land_parcels"))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version_offsets, offset_purchases, offset_retirements"))
        accounts = ", ".join(t.name for t in accounts_tables.ALL)
        conn.execute(text(f"DROP TABLE IF EXISTS alembic_version_accounts, {accounts}"))
    engine.dispose()
    assert _diff(postgres_url) == []


def test_a_mirror_rebuild_keeps_the_certificates(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'keep.sqlite'}")
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(insert(CertificateClaim).values(retirement_id="31337-0xab-1", certificate_id="SCCW-31337-000001"))
        conn.execute(
            insert(MethodologyRow).values(
                id="SCFM-001-V01", ecosystem="forest", version=1, document_hash="0x", status="filed"
            )
        )
    reset_mirror(engine)
    with engine.connect() as conn:
        assert conn.execute(select(CertificateClaim.certificate_id)).scalars().all() == ["SCCW-31337-000001"]
        assert conn.execute(select(MethodologyRow.id)).all() == []
