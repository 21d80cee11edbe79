"""The transparency log: anchored roots and consistency proofs (RFC 9162)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AnchoredRootPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tree_size: int
    root: str = Field(description="64 hex digits, no 0x")
    anchored_at: int = Field(description="Unix time, seconds")
    block_number: int
    tx_hash: str


class LogRootsPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_size: int
    roots: list[AnchoredRootPublic]


class ConsistencyProofPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str] = Field(description="the RFC 9162 consistency path, hex")
