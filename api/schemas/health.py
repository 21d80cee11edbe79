"""GET /health: the service's status and the mirror's lag behind the chain."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import SkipJsonSchema

HealthStatus = Literal["ok", "degraded", "node unreachable", "indexer stopped"]


class IndexerStatePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str
    since: float  # Unix time of the last change of state


class HealthPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: HealthStatus
    chain_id: int
    registry: str
    indexed_block: int | None
    node_block: int | None
    indexer_lag_blocks: int | None
    log_size: int
    # only when this process follows the chain (`ledger up`); absent otherwise, never null
    indexer: IndexerStatePublic | SkipJsonSchema[None] = None
    # only when the node or the indexer has a problem to report
    detail: str | SkipJsonSchema[None] = None
