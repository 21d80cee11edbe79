"""The certificate tables. Unlike the indexer's projections these are not derived from chain
events: they are the registry's own records, kept in the same database (and, for the log, made
checkable by the roots anchored on chain)."""

from __future__ import annotations

from sqlalchemy import BigInteger, LargeBinary, Text
from sqlmodel import Field, SQLModel


class CertificateRow(SQLModel, table=True):
    __tablename__ = "certificates"
    id: str = Field(primary_key=True)  # SCCW-<chain id>-<number, 6 digits>
    number: int = Field(sa_type=BigInteger, unique=True)
    scenario: str = Field(index=True)
    holder: str = Field(index=True)
    leaf_index: int = Field(sa_type=BigInteger, unique=True)
    leaf_hash: str = Field(unique=True)  # 64 hex digits
    body: str = Field(sa_type=Text)  # canonical JSON of the committed body (commitments, no values)
    public_fields: str = Field(sa_type=Text)  # JSON {name: {value, salt}}: non-personal or disclosed
    sealed_fields: bytes | None = Field(default=None, sa_type=LargeBinary)  # AES-GCM of the personal rest
    quantity_kg: int = Field(sa_type=BigInteger)
    issued_at: int = Field(sa_type=BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
    revocation_reason: str | None = None
    revocation_tx: str | None = None
    revocation_leaf_index: int | None = Field(default=None, sa_type=BigInteger)


class CertificateClaim(SQLModel, table=True):
    """A retirement backs at most one certificate: the primary key says so."""

    __tablename__ = "certificate_claims"
    retirement_id: str = Field(primary_key=True)
    certificate_id: str = Field(index=True)


class BeneficiarySecret(SQLModel, table=True):
    """The beneficiary and salt behind a commitment put on chain at retirement, sealed, until a
    certificate uses them."""

    __tablename__ = "beneficiary_secrets"
    commitment: str = Field(primary_key=True)  # 0x + 64 hex, as on chain
    sealed: bytes = Field(sa_type=LargeBinary)
    created_at: int = Field(sa_type=BigInteger)


class FootprintReportRow(SQLModel, table=True):
    """A footprint report a certificate commits to, under the sha256 of its canonical JSON
    (certificates/footprint_report.py); a person's report is sealed like their other fields."""

    __tablename__ = "footprint_reports"
    sha256: str = Field(primary_key=True)  # 64 hex digits, of the report's canonical JSON
    body: str | None = Field(default=None, sa_type=Text)  # the canonical JSON, when it may be shown
    sealed: bytes | None = Field(default=None, sa_type=LargeBinary)  # AES-GCM of it (record id: sha256)
    stored_at: int = Field(sa_type=BigInteger)


TABLES = [CertificateRow.__table__, CertificateClaim.__table__, BeneficiarySecret.__table__]  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes at run time
TABLES.append(FootprintReportRow.__table__)  # type: ignore[attr-defined]  # as above
