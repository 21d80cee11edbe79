"""accounts: sources and keys, accounts, the vault of personal data, consents, the behaviour
methodology, behaviour records and cap counters, the points ledger (entries, lots, spends), rights and
redemptions, the points log and its anchors

Revision ID: a0001
Revises:
Create Date: 2026-11-30 19:50:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "a0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_vault",
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "behaviour_records",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=True),
        sa.Column("quantity", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("capped", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        sa.UniqueConstraint("source_id", "source_record_id", name="uq_behaviour_records_source"),
    )
    op.create_index(op.f("ix_behaviour_records_account_id"), "behaviour_records", ["account_id"], unique=False)
    op.create_table(
        "behaviour_versions",
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("row_json", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("type", "version"),
    )
    op.create_table(
        "cap_counters",
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "type", "period"),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consents_live", "consents", ["account_id", "source_id", "data_kind"], unique=False)
    op.create_table(
        "points_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("txn", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("log_idx", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("log_idx"),
    )
    op.create_index("ix_points_entries_account_id", "points_entries", ["account", "id"], unique=False)
    op.create_index(op.f("ix_points_entries_txn"), "points_entries", ["txn"], unique=False)
    op.create_index(
        "points_entries_unlogged",
        "points_entries",
        ["id"],
        unique=False,
        postgresql_where=sa.text("log_idx IS NULL"),
        sqlite_where=sa.text("log_idx IS NULL"),
    )
    op.create_table(
        "points_log_anchors",
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("tx_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("anchored_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )
    op.create_table(
        "points_log_entries",
        sa.Column("idx", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("appended_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("idx"),
    )
    op.create_table(
        "points_log_nodes",
        sa.Column(
            "node_key", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("node_key"),
    )
    op.create_table(
        "points_lots",
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    op.create_index(
        "ix_points_lots_due",
        "points_lots",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("remaining > 0"),
        sqlite_where=sa.text("remaining > 0"),
    )
    op.create_index(
        "ix_points_lots_live",
        "points_lots",
        ["account", "expires_at"],
        unique=False,
        postgresql_where=sa.text("remaining > 0"),
        sqlite_where=sa.text("remaining > 0"),
    )
    op.create_table(
        "points_spends",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("txn", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_points_spends_lot_id"), "points_spends", ["lot_id"], unique=False)
    op.create_index(op.f("ix_points_spends_txn"), "points_spends", ["txn"], unique=False)
    op.create_table(
        "redemptions",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("right_id", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("reversed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "idempotency_key", name="uq_redemptions_key"),
    )
    op.create_index(op.f("ix_redemptions_account_id"), "redemptions", ["account_id"], unique=False)
    op.create_index(op.f("ix_redemptions_right_id"), "redemptions", ["right_id"], unique=False)
    op.create_table(
        "rights",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("reversal_window", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_rights_merchant_id"), "rights", ["merchant_id"], unique=False)
    op.create_table(
        "source_keys",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("secret_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("scopes", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("replaced_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_source_keys_source_id"), "source_keys", ["source_id"], unique=False)
    op.create_table(
        "sources",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("sources")
    op.drop_index(op.f("ix_source_keys_source_id"), table_name="source_keys")
    op.drop_table("source_keys")
    op.drop_index(op.f("ix_rights_merchant_id"), table_name="rights")
    op.drop_table("rights")
    op.drop_index(op.f("ix_redemptions_right_id"), table_name="redemptions")
    op.drop_index(op.f("ix_redemptions_account_id"), table_name="redemptions")
    op.drop_table("redemptions")
    op.drop_index(op.f("ix_points_spends_txn"), table_name="points_spends")
    op.drop_index(op.f("ix_points_spends_lot_id"), table_name="points_spends")
    op.drop_table("points_spends")
    op.drop_index(
        "ix_points_lots_live",
        table_name="points_lots",
        postgresql_where=sa.text("remaining > 0"),
        sqlite_where=sa.text("remaining > 0"),
    )
    op.drop_index(
        "ix_points_lots_due",
        table_name="points_lots",
        postgresql_where=sa.text("remaining > 0"),
        sqlite_where=sa.text("remaining > 0"),
    )
    op.drop_table("points_lots")
    op.drop_table("points_log_nodes")
    op.drop_table("points_log_entries")
    op.drop_table("points_log_anchors")
    op.drop_index(
        "points_entries_unlogged",
        table_name="points_entries",
        postgresql_where=sa.text("log_idx IS NULL"),
        sqlite_where=sa.text("log_idx IS NULL"),
    )
    op.drop_index(op.f("ix_points_entries_txn"), table_name="points_entries")
    op.drop_index("ix_points_entries_account_id", table_name="points_entries")
    op.drop_table("points_entries")
    op.drop_index("ix_consents_live", table_name="consents")
    op.drop_table("consents")
    op.drop_table("cap_counters")
    op.drop_table("behaviour_versions")
    op.drop_index(op.f("ix_behaviour_records_account_id"), table_name="behaviour_records")
    op.drop_table("behaviour_records")
    op.drop_table("accounts")
    op.drop_table("account_vault")
