"""index lots by retirement

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 03:40:00
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index("ix_lots_retirement_id", ["retirement_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_retirement_id")
