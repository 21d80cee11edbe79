"""A batch's monitoring report and its breakdown, as the API shows them (docs/mrv.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MonitoringHashes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verification_report_hash: str = Field(description="the batch's verificationReportHash on chain, 0x-hex")
    result_sha256: str = Field(description="sha256 of the stored result's canonical JSON (equals the above)")
    report_sha256: str = Field(description="sha256 of the monitoring report file's bytes")
    methodology_sha256: str = Field(description="sha256 of the methodology bundle's canonical JSON, as filed")


class MonitoringPublic(BaseModel):
    """The report (its sections as records: measurements only, no personal data) and the result it
    was issued with, recomputed now by this server: `matches` says whether the recomputation gives
    the same result hash and the quantity the batch was issued."""

    model_config = ConfigDict(extra="forbid")

    batch_id: int
    project_id: str
    methodology: str = Field(description="ID@VERSION")
    issued_kg: int
    recomputed_quantity_kg: int | None = Field(description="null when the stored report does not recompute")
    matches: bool
    problem: str | None = Field(description="why the recomputation does not match, if it does not")
    hashes: MonitoringHashes
    report: dict[str, list[dict[str, Any]]] = Field(description="the report's sections (docs/mrv.md)")
    breakdown: dict[str, Any] = Field(description="the result it was issued with (ledger-mrv-result/1)")
