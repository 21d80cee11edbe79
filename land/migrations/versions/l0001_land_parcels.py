"""the parcels' geometry, with a PostGIS GiST index where PostGIS is installed

Revision ID: l0001
Revises:
Create Date: 2026-11-30 15:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "l0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "land_parcels",
        sa.Column("project_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("parcel_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("parcel_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "parcel_id"),
    )
    with op.batch_alter_table("land_parcels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_land_parcels_parcel_hash"), ["parcel_hash"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from land import postgis  # the index statement is written once, there

        if postgis.available(bind):
            postgis.ensure_index(bind)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS land_parcels_geom")
    with op.batch_alter_table("land_parcels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_land_parcels_parcel_hash"))
    op.drop_table("land_parcels")
