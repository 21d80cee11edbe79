"""The points ledger: double-entry and append-only. A ledger transaction (`txn`) is two or more
postings whose amounts sum to zero; nothing is ever updated but `log_idx`, set once when the entry
is appended to the points log (accounts/pointslog.py). A correction is a new transaction."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, Table, UniqueConstraint
from sqlmodel import Field, SQLModel, col

KEY = BigInteger().with_variant(Integer(), "sqlite")  # an INTEGER PRIMARY KEY is SQLite's rowid


class PointsEntry(SQLModel, table=True):
    __tablename__ = "points_entries"
    # a statement reads one account's entries newest first, a page at a time: (account, id) serves it
    # without a sort, and serves every other lookup by account too
    __table_args__ = (Index("ix_points_entries_account_id", "account", "id"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=KEY)
    # e.g. "credit:<record key>", "redeem:<redemption id>"; postings sum to zero. Not indexed: nothing
    # looks an entry up by it (the audit groups the whole table), and the index cost a fifth of ingest
    txn: str
    # "person:<account id>", "source:<source id>", "merchant:<source id>", "expired"
    account: str
    amount: int = Field(sa_type=BigInteger)  # points, signed
    kind: str  # credit | redeem | reverse | expire | correct
    ref: str  # what the transaction is about: a behaviour record, a redemption, an expired credit
    created_at: int = Field(sa_type=BigInteger)  # unix seconds
    expires_at: int | None = Field(default=None, sa_type=BigInteger)  # on a person's credit: when it lapses
    log_idx: int | None = Field(default=None, unique=True, sa_type=BigInteger)  # its leaf in the points log


class PointsLot(SQLModel, table=True):
    """Derived, written in the same database transaction as the entries it follows: one row per
    positive posting to a person that carries an expiry (a credit, a reversal, a positive
    correction), with what is left of it. A balance at `now` sums the live remainders of a handful
    of lots instead of a person's whole history; `accounts.ledger.audit` recomputes every remainder
    from the entries and the spends."""

    __tablename__ = "points_lots"
    entry_id: int = Field(primary_key=True, sa_type=KEY)  # the positive entry this lot is
    account: str  # "person:<account id>"
    expires_at: int = Field(sa_type=BigInteger)
    remaining: int = Field(sa_type=BigInteger)


class PointsSpend(SQLModel, table=True):
    """Derived: how much of which lot a debit (redeem, negative correct, expire) took, so a reversal
    gives the points back with their original expiry and the audit can recompute each lot."""

    __tablename__ = "points_spends"
    id: int | None = Field(default=None, primary_key=True, sa_type=KEY)
    txn: str = Field(index=True)
    lot_id: int = Field(sa_type=BigInteger, index=True)
    amount: int = Field(sa_type=BigInteger)  # positive: points taken from the lot


class Right(SQLModel, table=True):
    """A right a merchant offers for points (权益): a coupon, a ticket, transit credit."""

    __tablename__ = "rights"
    id: int | None = Field(default=None, primary_key=True, sa_type=KEY)
    merchant_id: str = Field(index=True)  # a source of kind merchant
    name: str
    kind: str  # coupon | ticket | transit_credit | other
    stock: int = Field(sa_type=BigInteger)  # never below zero: redemptions take it with a conditional UPDATE
    price: int = Field(sa_type=BigInteger)  # points
    reversal_window: int = Field(
        sa_type=BigInteger
    )  # seconds after a redemption during which the merchant may reverse it
    active: bool = True
    created_at: int = Field(sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)


class Redemption(SQLModel, table=True):
    """One redemption, exactly once per (source, idempotency key): the unique constraint is the
    claim, so a retry finds the first outcome and a concurrent duplicate waits for it."""

    __tablename__ = "redemptions"
    __table_args__ = (UniqueConstraint("source_id", "idempotency_key", name="uq_redemptions_key"),)
    id: str = Field(primary_key=True)  # "red_" + 26 random base32 chars
    source_id: str  # the app that redeemed on the person's behalf
    idempotency_key: str
    account_id: str = Field(index=True)
    right_id: int = Field(sa_type=BigInteger, index=True)
    points: int = Field(sa_type=BigInteger)
    created_at: int = Field(sa_type=BigInteger)
    reversed_at: int | None = Field(default=None, sa_type=BigInteger)


def _table(model: type[SQLModel]) -> Table:
    table: Table = getattr(model, "__table__")  # noqa: B009  # set by SQLModel; typed here once
    return table


ENTRIES = _table(PointsEntry)
LOTS = _table(PointsLot)
SPENDS = _table(PointsSpend)
RIGHTS = _table(Right)
REDEMPTIONS = _table(Redemption)

# a balance or a FIFO spend reads only the lots with something left, soonest expiry first
LIVE_LOTS = Index(
    "ix_points_lots_live",
    col(PointsLot.account),
    col(PointsLot.expires_at),
    postgresql_where=col(PointsLot.remaining) > 0,
    sqlite_where=col(PointsLot.remaining) > 0,
)

# the expiry sweep reads the lapsed lots with something left, across all persons
DUE_LOTS = Index(
    "ix_points_lots_due",
    col(PointsLot.expires_at),
    postgresql_where=col(PointsLot.remaining) > 0,
    sqlite_where=col(PointsLot.remaining) > 0,
)

TABLES: list[Table] = [ENTRIES, LOTS, SPENDS, RIGHTS, REDEMPTIONS]
