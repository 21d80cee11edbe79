"""offset purchases and the aggregated retirements they are batched into

Revision ID: o0001
Revises:
Create Date: 2026-11-30 16:20:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "o0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offset_purchases",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("account_commitment", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kg", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("retirement_op", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("serial_first", sa.BigInteger(), nullable=True),
        sa.Column("serial_last", sa.BigInteger(), nullable=True),
        sa.Column("certificate_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("certificate_id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("offset_purchases") as batch:
        batch.create_index("ix_offset_purchases_created_at", ["created_at"], unique=False)
        batch.create_index("ix_offset_purchases_retirement_op", ["retirement_op"], unique=False)
    op.create_table(
        "offset_retirements",
        sa.Column("op_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("claim_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("ranges", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("op_id"),
    )


def downgrade() -> None:
    op.drop_table("offset_retirements")
    with op.batch_alter_table("offset_purchases") as batch:
        batch.drop_index("ix_offset_purchases_retirement_op")
        batch.drop_index("ix_offset_purchases_created_at")
    op.drop_table("offset_purchases")
