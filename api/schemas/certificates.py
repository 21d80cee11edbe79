"""Certificates: the list, the document (docs/certificate-format.md §3) and its inclusion proof.

The document is served as the registry stored it, never re-serialised through these shapes: the
body is what the transparency-log leaf commits to, and verifiers hash it (canonical JSON, §2). The
shapes describe it for /openapi.json and for the tests that validate real documents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class CertificateSummaryPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    scenario: str
    quantity_kg: int
    issued_at: int = Field(description="Unix time, seconds")
    leaf_index: int
    revoked: bool
    verify_url: str


class CertificatePagePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[CertificateSummaryPublic]
    next: int | None = Field(description="pass as `after` for the next page; null on the last")


class IssuerPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    chain_id: int
    registry: str
    revocations: str


class ClaimRulePublic(BaseModel):
    """The published conversion rule a claim used: footprint/rules/, `id@version` and the row's hash."""

    model_config = ConfigDict(extra="forbid")

    id: str
    version: int
    sha256: str


class ClaimPublic(BaseModel):
    """quantity_kg always; the footprint members for footprint scenarios, the tree members for the
    tree-planting duty (§5): a member a scenario does not use is absent, never null."""

    model_config = ConfigDict(extra="forbid")

    quantity_kg: int
    footprint_kg: int | SkipJsonSchema[None] = None
    carbon_neutral: bool | SkipJsonSchema[None] = None
    trees: int | SkipJsonSchema[None] = None
    kg_per_tree: int | SkipJsonSchema[None] = None
    duty_kg: int | SkipJsonSchema[None] = None
    duty_fulfilled: bool | SkipJsonSchema[None] = None
    # ecological justice converted by a published rule (docs/certificate-format.md §5.2): decimals as strings
    damages_yuan: str | SkipJsonSchema[None] = None
    price_yuan: str | SkipJsonSchema[None] = None
    price_tonnes: str | SkipJsonSchema[None] = None
    obligation_kg: int | SkipJsonSchema[None] = None
    obligation_fulfilled: bool | SkipJsonSchema[None] = None
    rule: ClaimRulePublic | SkipJsonSchema[None] = None


class CertifiedOriginPublic(BaseModel):
    """Where imported units came from, as the destination's import gate recorded it (informational)."""

    model_config = ConfigDict(extra="forbid")

    origin_registry: str | None
    origin_key: str
    attested: bool
    source_chain_id: int | None
    source_registry: str | None
    export_id: str | None
    source_batch: int | None
    source_first_serial: int | None
    source_last_serial: int | None
    import_tx_hash: str | None


class CertifiedRetirementPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="<chain id>-<tx hash>-<log index>")
    chain_id: int
    registry: str
    tx_hash: str
    log_index: int
    block_number: int
    batch_id: int
    holder: str
    amount_kg: int
    beneficiary_commitment: str
    serial_ranges: list[tuple[int, int]] = Field(description="inclusive global serials, one per kilogram")
    origin: CertifiedOriginPublic | SkipJsonSchema[None] = None  # imported units (docs/certificate-format.md §8.1)


class CertificateBodyPublic(BaseModel):
    """What the log leaf commits to: one commitment per field, never a field's value."""

    model_config = ConfigDict(extra="forbid")

    format: str
    id: str
    scenario: str
    issuer: IssuerPublic
    issued_at: str = Field(description="RFC 3339, UTC")
    claim: ClaimPublic
    fields: dict[str, str] = Field(description="field name → 64-hex-digit commitment")
    retirements: list[CertifiedRetirementPublic]


class OpeningPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | int
    salt: str


class AnchorPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tx_hash: str
    block_number: int


class InclusionProofPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    leaf_index: int
    tree_size: int
    root: str
    inclusion: list[str] = Field(description="bottom-up audit path, hex")
    anchor: AnchorPublic


class RevocationPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revoked_at: int = Field(description="Unix time, seconds")
    reason: str | None
    tx_hash: str | None


class CertificateDocumentPublic(BaseModel):
    """GET /certificates/{certificate_id}: the public copy (personal fields hidden unless disclosed)."""

    model_config = ConfigDict(extra="forbid")

    format: str
    certificate: CertificateBodyPublic
    disclosed: dict[str, OpeningPublic] = Field(description="openings of the fields shown; absent = hidden")
    proof: InclusionProofPublic | None = Field(description="null until the log is anchored past this leaf")
    # only if revoked: absent otherwise, never null
    revocation: RevocationPublic | SkipJsonSchema[None] = None


class CertificateProofPublic(BaseModel):
    """GET /certificates/{certificate_id}/proof: the leaf, its inclusion proof and the body it hashes."""

    model_config = ConfigDict(extra="forbid")

    certificate_id: str
    leaf_hash: str
    leaf_index: int
    tree_size: int
    root: str
    inclusion: list[str]
    anchor: AnchorPublic
    body: CertificateBodyPublic
