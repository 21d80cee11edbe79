"""Provenance: the custody of the serials a retirement consumed, and the story of one serial."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from api.schemas.catalog import BatchPublic, MethodologyPublic, ProjectPublic
from api.schemas.certificates import CertifiedOriginPublic


class MovePublic(BaseModel):
    """One serial range changing hands (kind: issue, transfer, retire or cancel)."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    from_holder: str
    to_holder: str
    first_serial: int
    last_serial: int
    tx_hash: str
    block_number: int
    log_index: int


class IssuancePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tx_hash: str
    block_number: int


class RetirementPublic(BaseModel):
    """The retirement as the mirror holds it, without the beneficiary commitment (certificates carry it)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="<chain id>-<tx hash>-<log index>")
    batch_id: int
    holder: str
    operator: str
    amount: int
    scenario: str
    claim_hash: str
    op_id: str
    block_number: int
    log_index: int
    tx_hash: str


class ImportOriginPublic(CertifiedOriginPublic):
    """Where an imported batch came from (docs/bridge.md): the registry and origin key the import
    names, and when `attested`, the destination's import gate's record of the same transaction:
    the source chain, registry, export, source batch and that batch's serial range (the fields a
    certificate's `origin` carries), with what the provenance routes add."""

    imported_kg: int
    # the serial route only: which kilogram of the import this serial is (1 .. imported_kg)
    kilogram_of_import: int | SkipJsonSchema[None] = None


class CustodyPublic(BaseModel):
    """One serial range of the retirement and every move of it, in chain order."""

    model_config = ConfigDict(extra="forbid")

    first_serial: int
    last_serial: int
    amount_kg: int
    moves: list[MovePublic]


class RetirementProvenancePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retirement: RetirementPublic
    batch: BatchPublic | None
    # absent (never null) when the mirror has no such batch
    issuance: IssuancePublic | SkipJsonSchema[None] = None
    project: ProjectPublic | None
    methodology: MethodologyPublic | None
    certificate_id: str | None
    serial_ranges: list[CustodyPublic]
    origin: ImportOriginPublic | None = None  # an imported batch: where it came from


class SerialNowPublic(BaseModel):
    """Where the serial is now: in the lot that holds it (state: held, retired or cancelled)."""

    model_config = ConfigDict(extra="forbid")

    holder: str
    state: str
    lot_first: int
    lot_last: int
    retirement_id: str | None
    cancellation_id: str | None


class PersonalCertificatePublic(BaseModel):
    """The personal certificate holding this kilogram, when it was retired for a person in an
    aggregated retirement (docs/offsets.md §6): what the certificate itself shows, no account."""

    model_config = ConfigDict(extra="forbid")

    certificate_id: str
    purchase_id: str
    serial_first: int = Field(description="the allocation's serial sub-range, first")
    serial_last: int
    account_commitment: str = Field(description="the salted commitment of the person's account (64 hex)")


class SerialProvenancePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serial: int
    batch_id: int
    now: SerialNowPublic | None
    moves: list[MovePublic]
    batch: BatchPublic
    issuance: IssuancePublic
    project: ProjectPublic | None
    methodology: MethodologyPublic | None
    origin: ImportOriginPublic | None = None  # an imported batch: where it came from, and which kilogram of it
    personal_certificate: PersonalCertificatePublic | None = None  # retired for a person (offsets/)
