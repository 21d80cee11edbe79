"""index retirements for the public lists

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 15:10:00

The public registry (public/lists.py) pages retirements newest first by (block_number, log_index),
also within one scenario or one batch; without these a page of 50 out of 1,000,000 rows sorts
every matching row; the scenario index also carries the amount, so the statistics' sums read
the index alone, not the 1,000,000 table rows.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_retirements_keyset": ["block_number", "log_index"],
    "ix_retirements_scenario_keyset": ["scenario", "block_number", "log_index", "amount"],  # covers the statistics
    "ix_retirements_batch_keyset": ["batch_id", "block_number", "log_index"],
}


def upgrade() -> None:
    with op.batch_alter_table("retirements", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("retirements", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
