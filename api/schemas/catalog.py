"""The catalog: methodologies, projects, batches (the mirror's rows, as the API shows them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MethodologyPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    ecosystem: str
    version: int
    document_hash: str
    status: str
    successor_id: str | None


class ProjectPublic(BaseModel):
    """A project's own fields (what provenance shows beside a batch)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    methodology_id: str
    owner: str
    county_code: int
    area_square_metres: int
    crediting_start: int
    crediting_end: int
    documents_hash: str
    status: str
    review_report_hash: str | None


class ProjectBatchPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    vintage: int
    issued_kg: int


class ProjectDetailPublic(ProjectPublic):
    """GET /projects/{project_id}: the project, its parcels and its batches."""

    batch_count: int
    parcels: list[str]
    batches: list[ProjectBatchPublic]


class BatchPublic(BaseModel):
    """A batch's own fields and the last serial of its range."""

    model_config = ConfigDict(extra="forbid")

    id: int
    project_id: str
    batch_seq: int | None
    vintage: int
    first_serial: int
    issued: int
    retired: int
    cancelled: int
    reserve_amount: int
    owner: str
    monitoring_start: int | None
    monitoring_end: int | None
    verification_report_hash: str | None
    origin_key: str | None
    origin_registry: str | None
    op_id: str
    block_number: int
    tx_hash: str
    last_serial: int


class SupplyPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issued_kg: int
    circulating_kg: int
    retired_kg: int
    cancelled_kg: int
    reserve_kg: int


class HolderPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holder: str
    amount_kg: int
    pledged_kg: int
    frozen_kg: int


class BatchDetailPublic(BatchPublic):
    """GET /batches/{batch_id}: the batch, its supply buckets and its largest holders (at most 100)."""

    supply: SupplyPublic
    holders: list[HolderPublic]
