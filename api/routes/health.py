"""GET /health: is the service up, how far behind the chain is the mirror."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import Connection, select

from api.context import ServiceContext
from api.routes.deps import connection, context
from chain.rpc import RpcError
from indexer.models import SyncCursor

router = APIRouter(tags=["health"])
_heads: dict[str, dict[str, float]] = {}  # by node URL: two apps in one process may watch two chains


def _node_head(ctx: ServiceContext) -> int | None:
    """The node's block number, asked at most once a second whatever the request rate."""
    if ctx.rpc is None:
        return None
    _head = _heads.setdefault(ctx.rpc.url, {"block": -1.0, "at": 0.0})
    now = time.monotonic()
    if now - _head["at"] > 1.0:
        try:
            _head["block"] = float(int(ctx.rpc.call("eth_blockNumber"), 16))
        except (RpcError, OSError, ValueError):
            _head["block"] = -1.0
        _head["at"] = now
    return int(_head["block"]) if _head["block"] >= 0 else None


@router.get("/health", summary="Service status and the indexer's lag behind the chain")
def health(conn: Annotated[Connection, Depends(connection)], ctx: Annotated[ServiceContext, Depends(context)]) -> dict[str, Any]:
    cursor = conn.execute(select(SyncCursor.block_number).where(SyncCursor.chain_id == ctx.deployment.chain_id)).scalar()
    head = _node_head(ctx)
    lag = None if head is None or cursor is None else max(0, head - cursor)
    return {"status": "ok" if lag is not None and lag <= 5 else "degraded", "chain_id": ctx.deployment.chain_id,
            "registry": ctx.issuer.registry, "indexed_block": cursor, "node_block": head, "indexer_lag_blocks": lag,
            "log_size": ctx.log.size(conn)}
