"""an index on the purchases' first serial: the provenance of one serial finds its purchase

Revision ID: o0002
Revises: o0001
Create Date: 2026-11-30 18:30:00
"""

from alembic import op

revision = "o0002"
down_revision = "o0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offset_purchases") as batch:
        batch.create_index("ix_offset_purchases_serial_first", ["serial_first"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("offset_purchases") as batch:
        batch.drop_index("ix_offset_purchases_serial_first")
