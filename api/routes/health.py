"""GET /health: is the service up, how far behind the chain is the mirror. 503 when the node
cannot be reached or the indexer of this process has stopped: a balancer takes the worker out."""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, select
from sqlmodel import col

from api.problems import PROBLEM, PROBLEM_SCHEMA
from api.routes.deps import connection, context
from api.schemas.health import HealthPublic, HealthStatus, IndexerStatePublic
from certificates.context import ServiceContext
from chain.errors import ChainError
from chain.rpc import RpcError
from indexer.models import SyncCursor
from indexer.sync import following_status

router = APIRouter(tags=["health"])
_heads: dict[str, dict[str, Any]] = {}  # by node URL: two apps in one process may watch two chains
UNREACHABLE: Final = "node unreachable"
_asking = threading.Lock()


def _node_head(ctx: ServiceContext) -> tuple[int | None, str | None]:
    """The node's block number, or why there is none; asked at most once a second whatever the
    request rate."""
    if ctx.rpc is None:
        return None, None
    _head = _heads.setdefault(ctx.rpc.url, {"block": None, "error": None, "at": 0.0})
    now = time.monotonic()
    # one request asks while the others answer with the last word: a node that hangs holds one thread, not all
    if now - _head["at"] > 1.0 and _asking.acquire(blocking=False):
        try:
            _head["block"], _head["error"] = int(ctx.rpc.call("eth_blockNumber"), 16), None
        except (ChainError, RpcError, OSError, ValueError) as exc:  # NodeUnreachableError is a ChainError
            _head["block"], _head["error"] = None, getattr(exc, "reason", type(exc).__name__)
        finally:
            _head["at"] = now
            _asking.release()
    return _head["block"], _head["error"]


@router.get(
    "/health",
    summary="Service status and the indexer's lag behind the chain",
    response_model=HealthPublic,
    response_model_exclude_unset=True,  # `indexer` and `detail` are absent, not null, when there is nothing to say
    responses={
        503: {
            "model": HealthPublic,
            "description": "The node cannot be reached, or this process's indexer has stopped (the status as for "
            "200); or the service is busy (a problem)",
            "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}},
        }
    },
)
def health(
    conn: Annotated[Connection, Depends(connection)], ctx: Annotated[ServiceContext, Depends(context)]
) -> HealthPublic | JSONResponse:
    cursor = conn.execute(
        select(col(SyncCursor.block_number)).where(col(SyncCursor.chain_id) == ctx.deployment.chain_id)
    ).scalar()
    head, node_error = _node_head(ctx)
    lag = None if head is None or cursor is None else max(0, head - cursor)
    indexer = ctx.indexer_status or following_status()
    status: HealthStatus = "ok" if lag is not None and lag <= 5 else "degraded"
    if node_error is not None or (indexer is not None and indexer.state == UNREACHABLE):
        status = UNREACHABLE
    elif indexer is not None and indexer.state == "stopped":
        status = "indexer stopped"
    body = HealthPublic(
        status=status,
        chain_id=ctx.deployment.chain_id,
        registry=ctx.issuer.registry,
        indexed_block=cursor,
        node_block=head,
        indexer_lag_blocks=lag,
        log_size=ctx.log.size(conn),
    )
    if indexer is not None:
        body.indexer = IndexerStatePublic(state=indexer.state, since=indexer.since)
    if node_error is not None or (indexer is not None and indexer.reason):
        reason = node_error or (indexer.reason if indexer is not None else None)
        body.detail = f"{UNREACHABLE} ({reason}); the mirror is served as of block {cursor}"
    if status in (UNREACHABLE, "indexer stopped"):
        return JSONResponse(
            body.model_dump(mode="json", exclude_unset=True),
            status_code=503,
            headers={"Retry-After": str(ctx.settings.retry_after)},
        )
    return body
