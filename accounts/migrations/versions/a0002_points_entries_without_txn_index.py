"""the points ledger without an index on txn: no statement looks an entry up by its transaction
(the audit groups the whole table), and the index was a fifth of the cost of a batch of credits

Revision ID: a0002
Revises: a0001
Create Date: 2026-11-30 22:00:00
"""

from alembic import op

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("points_entries") as batch:
        batch.drop_index("ix_points_entries_txn")


def downgrade() -> None:
    with op.batch_alter_table("points_entries") as batch:
        batch.create_index("ix_points_entries_txn", ["txn"], unique=False)
