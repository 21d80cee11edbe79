"""one ledger transaction per batch of credits: behaviour records name the transaction that credited
them (a retried record answers it), and points_entries lose their index on txn (no statement looks an
entry up by its transaction: the audit groups the whole table; the index was a fifth of the cost of a
batch of credits), and behaviour records theirs on account_id (a person's records are found through their
credit entries)

Revision ID: a0002
Revises: a0001
Create Date: 2026-11-30 22:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("behaviour_records") as batch:
        batch.add_column(sa.Column("txn", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    # until now each credit was its own transaction, named after the record's key
    op.execute("UPDATE behaviour_records SET txn = 'credit:' || key")
    with op.batch_alter_table("behaviour_records") as batch:
        batch.alter_column("txn", existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False)
    with op.batch_alter_table("points_entries") as batch:
        batch.drop_index("ix_points_entries_txn")
    with op.batch_alter_table("behaviour_records") as batch:
        batch.drop_index("ix_behaviour_records_account_id")


def downgrade() -> None:
    with op.batch_alter_table("behaviour_records") as batch:
        batch.create_index("ix_behaviour_records_account_id", ["account_id"], unique=False)
    with op.batch_alter_table("points_entries") as batch:
        batch.create_index("ix_points_entries_txn", ["txn"], unique=False)
    with op.batch_alter_table("behaviour_records") as batch:
        batch.drop_column("txn")
