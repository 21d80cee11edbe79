"""The transparency log: anchored roots and consistency proofs between anchored sizes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection, select
from sqlmodel import col

from api.problems import ApiProblem, problem_responses
from api.routes.deps import connection, context
from api.schemas.log import AnchoredRootPublic, ConsistencyProofPublic, LogRootsPublic
from certificates.context import ServiceContext
from indexer.models import AnchoredRoot

router = APIRouter(prefix="/log", tags=["transparency log"], responses=problem_responses(503))


@router.get("/roots", summary="Every (tree size, root) anchored on chain, with its transaction")
def roots(
    conn: Annotated[Connection, Depends(connection)], ctx: Annotated[ServiceContext, Depends(context)]
) -> LogRootsPublic:
    rows = conn.execute(select(AnchoredRoot).order_by(col(AnchoredRoot.tree_size))).all()
    return LogRootsPublic(
        log_size=ctx.log.size(conn),
        roots=[
            AnchoredRootPublic(
                tree_size=r.tree_size,
                root=r.root[2:],
                anchored_at=r.anchored_at,
                block_number=r.block_number,
                tx_hash=r.tx_hash,
            )
            for r in rows
        ],
    )


@router.get(
    "/consistency",
    summary="A consistency proof between two anchored tree sizes (RFC 9162)",
    responses=problem_responses(404, 422),
)
def consistency(
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
    first: Annotated[int, Query(ge=1, le=2**62)],
    second: Annotated[int, Query(ge=1, le=2**62)],
) -> ConsistencyProofPublic:
    if first > second:
        raise ApiProblem(422, "Invalid request", "first must not exceed second")
    anchored = {
        r.tree_size: r.root[2:]
        for r in conn.execute(
            select(col(AnchoredRoot.tree_size), col(AnchoredRoot.root)).where(
                col(AnchoredRoot.tree_size).in_((first, second))
            )
        )
    }
    missing = [str(s) for s in (first, second) if s not in anchored]
    if missing:
        raise ApiProblem(
            404, "Not anchored", f"tree size {', '.join(missing)} was never anchored (see /api/v1/log/roots)"
        )
    proof = ctx.log.consistency_proof(first, second, conn)
    return ConsistencyProofPublic(
        first=first,
        second=second,
        first_root=anchored[first],
        second_root=anchored[second],
        proof=[p.hex() for p in proof],
    )
