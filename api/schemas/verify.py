"""POST /verify: the verdict on a certificate document, check by check."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from certificates.verify import CHECKS

CheckName = Annotated[str, Field(json_schema_extra={"enum": list(CHECKS)})]


class CheckPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CheckName
    ok: bool
    title_zh: str
    title_en: str
    detail: str


class VerdictPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["valid", "invalid", "revoked", "pending"]
    certificate_id: str | None
    failed: list[CheckName]
    checks: list[CheckPublic]
