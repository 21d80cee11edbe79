"""mirror the import gate's origins of imported batches

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 18:20:00

The import gate (contracts/MethodologyRecognitions.sol) names, in the importing transaction, the
source chain, registry, export, batch and serial range of each imported batch (ImportOrigin);
provenance and certificates read it from here, without the source's node.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_origins",
        sa.Column("origin_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("source_chain_id", sa.BigInteger(), nullable=False),
        sa.Column("source_registry", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("export_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_batch", sa.BigInteger(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("origin_key"),
    )
    op.create_index("ix_import_origins_batch_id", "import_origins", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_import_origins_batch_id", table_name="import_origins")
    op.drop_table("import_origins")
