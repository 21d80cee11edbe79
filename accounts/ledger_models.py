"""The points ledger: double-entry and append-only. A ledger transaction (`txn`) is two or more
postings whose amounts sum to zero; nothing is ever updated but `log_idx`, set once when the entry
is appended to the points log (accounts/pointslog.py). A correction is a new transaction."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, Table
from sqlmodel import Field, SQLModel

KEY = BigInteger().with_variant(Integer(), "sqlite")  # an INTEGER PRIMARY KEY is SQLite's rowid


class PointsEntry(SQLModel, table=True):
    __tablename__ = "points_entries"
    id: int | None = Field(default=None, primary_key=True, sa_type=KEY)
    txn: str = Field(index=True)  # e.g. "credit:<record id>", "redeem:<redemption id>"; postings sum to zero
    # "person:<account id>", "source:<source id>", "merchant:<source id>", "expired"
    account: str = Field(index=True)
    amount: int = Field(sa_type=BigInteger)  # points, signed
    kind: str  # credit | redeem | reverse | expire | correct
    ref: str  # what the transaction is about: a behaviour record, a redemption, an expired credit
    created_at: int = Field(sa_type=BigInteger)  # unix seconds
    expires_at: int | None = Field(default=None, sa_type=BigInteger)  # on a person's credit: when it lapses
    log_idx: int | None = Field(default=None, unique=True, sa_type=BigInteger)  # its leaf in the points log


TABLES: list[Table] = [PointsEntry.__table__]  # type: ignore[attr-defined]  # set by SQLModel
