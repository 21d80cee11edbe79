"""The offsets tables: purchases, and the aggregated retirements they are batched into. Versioned
apart from the other domains' (`alembic_version_offsets`, offsets/migrations)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Text
from sqlmodel import Field, SQLModel


class OffsetPurchase(SQLModel, table=True):
    """One person's purchase of `kg`. `retirement_op` is set once, when the purchase is put in a
    batch, in the same transaction that records the batch: a purchase is in exactly one retirement."""

    __tablename__ = "offset_purchases"
    id: str = Field(primary_key=True)  # derived from the idempotency key: a retried purchase finds its row
    key_hash: str = Field(unique=True)  # sha256 of the idempotency key: the key itself may say who bought
    account_commitment: str  # salted commitment of the account (64 hex), never the account
    kg: int = Field(sa_type=BigInteger)
    created_at: int = Field(sa_type=BigInteger, index=True)  # unix seconds; batches take the oldest first
    retirement_op: str | None = Field(default=None, index=True)  # hex op id of its retirement
    # indexed: the provenance of one serial finds the purchase holding it (offsets/provenance.py)
    serial_first: int | None = Field(default=None, sa_type=BigInteger, index=True)
    serial_last: int | None = Field(default=None, sa_type=BigInteger)
    # its personal certificate: set in the transaction that issues it, so a purchase has at most one
    certificate_id: str | None = Field(default=None, unique=True)


class OffsetRetirement(SQLModel, table=True):
    """One aggregated `retireFor`: written before it is sent (tx_hash empty), completed with the
    transaction once it is mined, or found on chain by its op id after a crash."""

    __tablename__ = "offset_retirements"
    op_id: str = Field(primary_key=True)  # hex, as the mirror writes op ids
    holder: str  # lowercase
    batch_id: int = Field(sa_type=BigInteger)
    amount: int = Field(sa_type=BigInteger)
    claim_hash: str  # 0x + 64 hex: the allocation root
    ranges: str = Field(sa_type=Text)  # JSON [[first, last], ...]: the serials the retirement consumes
    created_at: int = Field(sa_type=BigInteger)
    tx_hash: str | None = None
    log_index: int | None = None
    block_number: int | None = Field(default=None, sa_type=BigInteger)


TABLES = [OffsetPurchase.__table__, OffsetRetirement.__table__]  # type: ignore[attr-defined]  # set by SQLModel
