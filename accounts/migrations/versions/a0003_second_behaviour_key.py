"""behaviour records get a second key, unique: the behaviour's identity in time buckets shifted by half
a bucket (accounts.ingest.behaviour_keys), so two reports of one trip on either side of a bucket
boundary are one behaviour; only records near a bucket edge have one, so the index is partial. Records stored before keep none: their identity fields were never
stored, so it cannot be computed for them

Revision ID: a0003
Revises: a0002
Create Date: 2026-12-01 07:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "a0003"
down_revision = "a0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("behaviour_records") as batch:
        batch.add_column(sa.Column("key2", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    # unique where set: the records without one (about half) add nothing to it
    op.create_index(
        "ix_behaviour_records_key2",
        "behaviour_records",
        ["key2"],
        unique=True,
        postgresql_where=sa.text("key2 IS NOT NULL"),
        sqlite_where=sa.text("key2 IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_behaviour_records_key2", table_name="behaviour_records")
    with op.batch_alter_table("behaviour_records") as batch:
        batch.drop_column("key2")
