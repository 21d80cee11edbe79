"""The public registry's lists (公示) as the API shows them (public/lists.py builds the rows).

Amounts are kilograms of CO2e; hashes are 0x-hex; accounts are lowercase addresses. A retirement
shows its beneficiary only as the salted commitment the chain holds: no person's data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NEXT = Field(description="pass as `after` for the next page; null on the last page")


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectListed(_Row):
    id: str
    methodology_id: str
    ecosystem: str | None
    county_code: int
    owner: str
    status: str
    area_square_metres: int
    crediting_start: int
    crediting_end: int
    batch_count: int
    documents_hash: str
    review_report_hash: str | None


class BatchListed(_Row):
    id: int
    project_id: str
    vintage: int
    issued_kg: int
    retired_kg: int
    cancelled_kg: int
    reserve_kg: int
    circulating_kg: int
    first_serial: int
    last_serial: int
    monitoring_start: int | None
    monitoring_end: int | None
    verification_report_hash: str | None
    origin_registry: str | None
    block_number: int
    tx_hash: str


class RetirementListed(_Row):
    id: str = Field(description="the retirement id: <chain id>-<tx hash>-<log index> (chain.types.RetirementId)")
    batch_id: int
    project_id: str | None
    vintage: int | None
    amount_kg: int
    scenario: str
    holder: str
    operator: str
    beneficiary_commitment: str = Field(description="a salted hash: the beneficiary's name is never published")
    claim_hash: str
    block_number: int
    log_index: int
    tx_hash: str


class CancellationListed(_Row):
    id: str
    batch_id: int
    project_id: str | None
    vintage: int | None
    amount_kg: int
    reason: str
    evidence_hash: str
    export_id: str | None
    holder: str
    block_number: int
    log_index: int
    tx_hash: str


class ExportListed(_Row):
    id: str
    batch_id: int
    project_id: str | None
    amount_kg: int
    holder: str
    destination_registry: str
    destination_account: str
    status: str
    destination_reference: str | None


class ReserveListed(_Row):
    batch_id: int
    project_id: str
    vintage: int
    reserve_kg: int
    issued_kg: int
    block_number: int
    tx_hash: str


class StatusChangeListed(_Row):
    address: str
    kind: str | None
    previous: str
    status: str
    current_status: str | None
    reason_hash: str = Field(description="sha256 of the reason document")
    block_number: int
    log_index: int
    tx_hash: str


class ParticipantListed(_Row):
    address: str
    kind: str
    status: str
    reference_hash: str
    history: list[StatusChangeListed] = Field(description="every status change, newest first")


class SanctionListed(StatusChangeListed):
    date: str | None = Field(description="the block's time (UTC), when the node answered; the block is authoritative")
    document_url: str | None = Field(description="the reason document, when the registry has published it")


class ProjectPage(_Row):
    items: list[ProjectListed]
    next: str | None = NEXT


class BatchPage(_Row):
    items: list[BatchListed]
    next: str | None = NEXT


class RetirementPage(_Row):
    items: list[RetirementListed]
    next: str | None = NEXT


class CancellationPage(_Row):
    items: list[CancellationListed]
    next: str | None = NEXT


class ExportPage(_Row):
    items: list[ExportListed]
    next: str | None = NEXT


class ReservePage(_Row):
    items: list[ReserveListed]
    total_reserve_kg: int
    next: str | None = NEXT


class ParticipantPage(_Row):
    items: list[ParticipantListed]
    next: str | None = NEXT


class SanctionPage(_Row):
    items: list[SanctionListed]
    next: str | None = NEXT


class BucketPublic(_Row):
    key: str
    issued_kg: int | None
    retired_kg: int
    cancelled_kg: int | None
    reserve_kg: int | None


class StatisticsPublic(_Row):
    tip_block: int
    totals: BucketPublic
    by_ecosystem: list[BucketPublic]
    by_county: list[BucketPublic]
    by_vintage: list[BucketPublic]
    by_scenario: list[BucketPublic]
    over_blocks: list[BucketPublic] = Field(description="issued and retired per block interval, oldest first")


class SnapshotPublic(_Row):
    date: str
    sha256: str = Field(description="sha256 of the snapshot file's bytes")
    leaf_index: int
    entry: str = Field(description="the log entry (canonical JSON); its RFC 9162 leaf hash is sha256(0x00 || entry)")
    leaf_hash: str
    tree_size: int | None = Field(description="the anchored tree size the proof leads to; null until anchored")
    root: str | None
    anchor_tx: str | None
    proof: list[str]


class SnapshotsPublic(_Row):
    snapshots: list[SnapshotPublic]
