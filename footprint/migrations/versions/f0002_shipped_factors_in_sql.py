"""the shipped factor rows in SQL too, with the columns a listing filters and pages by

Revision ID: f0002
Revises: f0001
Create Date: 2026-11-30 15:20:00

The rows already held (imports, and the annotations of shipped rows) get their columns from their
own body; the shipped rows themselves are copied in by footprint.store.sync_shipped, which every reader of
the library runs first (footprint/store.py), so rows shipped after this migration are copied too."""

import json

import sqlalchemy as sa
from alembic import op

from footprint.library import shipped

revision = "f0002"
down_revision = "f0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("footprint_factors") as batch:
        batch.add_column(sa.Column("origin", sa.String(), nullable=False, server_default="imported"))
        batch.add_column(sa.Column("activity", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("region", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("superseded_by", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("illustrative", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index("ix_footprint_factors_activity_region_year", ["activity", "region", "year"])
    table = sa.table(
        "footprint_factors",
        sa.column("id", sa.String),
        sa.column("version", sa.Integer),
        sa.column("body", sa.Text),
        sa.column("origin", sa.String),
        sa.column("activity", sa.String),
        sa.column("region", sa.String),
        sa.column("year", sa.Integer),
        sa.column("superseded_by", sa.String),
        sa.column("illustrative", sa.Boolean),
    )
    conn = op.get_bind()
    known = shipped().factors
    for id_, version, body in conn.execute(sa.select(table.c.id, table.c.version, table.c.body)).all():
        raw = json.loads(body)
        conn.execute(
            table.update()
            .where(table.c.id == id_, table.c.version == version)
            .values(
                origin="shipped" if f"{id_}@{version}" in known else "imported",
                activity=raw["activity"],
                region=raw["region"],
                year=int(raw["year"]) if raw["year"] else None,
                superseded_by=raw["superseded_by"],
                illustrative=raw["illustrative"].lower() == "true",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("footprint_factors") as batch:
        batch.drop_index("ix_footprint_factors_activity_region_year")
        for name in ("illustrative", "superseded_by", "year", "region", "activity", "origin"):
            batch.drop_column(name)
