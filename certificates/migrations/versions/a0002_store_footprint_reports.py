"""store the footprint reports certificates commit to

Revision ID: a0002
Revises: a0001
Create Date: 2026-11-30 13:20:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "footprint_reports",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("stored_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )


def downgrade() -> None:
    op.drop_table("footprint_reports")
