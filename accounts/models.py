"""The accounts tables: data sources and their keys, accounts, the vault of their personal data,
consents, operator-imported behaviour methodology versions, behaviour records and cap counters.

Personal data (name, phone, ID number) lives only in `account_vault`, sealed (certificates/vault.py);
every other table names a person by the pseudonymous account id alone."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, Table, UniqueConstraint
from sqlmodel import Field, SQLModel, col

KEY = BigInteger().with_variant(Integer(), "sqlite")  # an INTEGER PRIMARY KEY is SQLite's rowid


class Source(SQLModel, table=True):
    __tablename__ = "sources"
    id: str = Field(primary_key=True)  # a slug, e.g. "tianfutong"
    name: str
    kind: str  # app | transit | merchant | platform
    created_at: int = Field(sa_type=BigInteger)


class SourceKey(SQLModel, table=True):
    __tablename__ = "source_keys"
    id: str = Field(primary_key=True)  # the public key id, "k_" + 20 base32 chars
    source_id: str = Field(index=True)
    secret_sha256: str  # hex sha256 of the secret: the secret is 160 random bits, so no pepper is needed
    scopes: str  # space-separated
    created_at: int = Field(sa_type=BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)  # refused from this instant on
    replaced_by: str | None = None  # the key a rotation made


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    id: str = Field(primary_key=True)  # "acc_" + 26 random base32 chars: says nothing about the person
    created_by: str  # the source that opened it
    created_at: int = Field(sa_type=BigInteger)
    deleted_at: int | None = Field(default=None, sa_type=BigInteger)


class AccountVault(SQLModel, table=True):
    """The only table holding personal data, and only sealed: AES-GCM with the account id as
    associated data. Deleting the account deletes the row."""

    __tablename__ = "account_vault"
    account_id: str = Field(primary_key=True)
    sealed: bytes = Field(sa_type=LargeBinary)


class Consent(SQLModel, table=True):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_live", "account_id", "source_id", "data_kind"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=KEY)
    account_id: str
    source_id: str
    data_kind: str  # one of the methodology's data kinds
    granted_at: int = Field(sa_type=BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)


class BehaviourVersion(SQLModel, table=True):
    """A methodology row the operator imported (the shipped rows live in accounts/behaviours/*.csv).
    Rows are never changed: a correction is a higher version."""

    __tablename__ = "behaviour_versions"
    type: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    row_json: str  # the row as canonical JSON, in the CSV's columns
    imported_at: int = Field(sa_type=BigInteger)


class BehaviourRecord(SQLModel, table=True):
    """A credited behaviour. The key is the behaviour's identity hash, so the same behaviour reported
    by two sources can be stored (and credited) once; (source, source_record_id) makes a retried
    record find its first outcome."""

    __tablename__ = "behaviour_records"
    __table_args__ = (UniqueConstraint("source_id", "source_record_id", name="uq_behaviour_records_source"),)
    key: str = Field(primary_key=True)  # hex sha256 of the behaviour's identity
    source_id: str
    source_record_id: str
    # not indexed: a person's records are found through their credit entries (accounts.people)
    account_id: str
    type: str
    version: int
    occurred_at: int | None = Field(default=None, sa_type=BigInteger)  # None once the account is deleted
    quantity: str | None = None  # decimal text in the type's unit; None once the account is deleted
    points: int = Field(sa_type=BigInteger)  # credited (after caps)
    capped: bool = False  # True: fewer points than the behaviour's grams, a cap cut it
    received_at: int = Field(sa_type=BigInteger)
    # the ledger transaction that credited it: one per batch since 2026-12 ("credit:" + 32 hex digits),
    # "credit:<key>" for records stored before (the migration a0002 wrote it)
    txn: str
    # the second key (accounts.ingest.behaviour_keys): the behaviour in buckets shifted by half a
    # bucket, so that two reports straddling a bucket edge still meet; only near an edge (None in the
    # middle of a bucket, for a bucket of a day or more, and for records stored before the migration
    # a0003). Unique where set (SECOND_KEYS)
    key2: str | None = None


class CapCounter(SQLModel, table=True):
    """Points credited per account, type and period ("d2026-11-30" or "y2026", Asia/Shanghai)."""

    __tablename__ = "cap_counters"
    account_id: str = Field(primary_key=True)
    type: str = Field(primary_key=True)
    period: str = Field(primary_key=True)
    points: int = Field(default=0, sa_type=BigInteger)


def _table(model: type[SQLModel]) -> Table:
    table: Table = getattr(model, "__table__")  # noqa: B009  # set by SQLModel; typed here once
    return table


# Core handles: the domain's statements are SQLAlchemy Core over these (typed, and cheap per batch)
SOURCES = _table(Source)
SOURCE_KEYS = _table(SourceKey)
ACCOUNTS = _table(Account)
ACCOUNT_VAULT = _table(AccountVault)
CONSENTS = _table(Consent)
BEHAVIOUR_VERSIONS = _table(BehaviourVersion)
BEHAVIOUR_RECORDS = _table(BehaviourRecord)
CAP_COUNTERS = _table(CapCounter)

# unique where set: a partial index, so the half of the records without one cost it nothing
SECOND_KEYS = Index(
    "ix_behaviour_records_key2",
    col(BehaviourRecord.key2),
    unique=True,
    postgresql_where=col(BehaviourRecord.key2).is_not(None),
    sqlite_where=col(BehaviourRecord.key2).is_not(None),
)

TABLES: list[Table] = [
    SOURCES,
    SOURCE_KEYS,
    ACCOUNTS,
    ACCOUNT_VAULT,
    CONSENTS,
    BEHAVIOUR_VERSIONS,
    BEHAVIOUR_RECORDS,
    CAP_COUNTERS,
]
