"""Certificates: the list, one certificate (public fields only), its inclusion proof."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, select
from sqlmodel import col

from api.problems import ApiProblem, problem_responses
from api.routes.deps import connection, context
from api.schemas.certificates import (
    CertificateDocumentPublic,
    CertificatePagePublic,
    CertificateProofPublic,
    CertificateSummaryPublic,
)
from certificates.context import ServiceContext
from certificates.copies import CertificateNotFoundError, certificate_row, document, proof_for
from certificates.models import CertificateRow

router = APIRouter(tags=["certificates"], responses=problem_responses(503))


@router.get("/certificates", summary="Certificates, newest last, in pages", responses=problem_responses(422))
def list_certificates(
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
    after: Annotated[int, Query(ge=0, le=2**62, description="the last number of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> CertificatePagePublic:
    rows = conn.execute(
        select(
            col(CertificateRow.id),
            col(CertificateRow.number),
            col(CertificateRow.scenario),
            col(CertificateRow.quantity_kg),
            col(CertificateRow.issued_at),
            col(CertificateRow.leaf_index),
            col(CertificateRow.revoked_at),
        )
        .where(col(CertificateRow.number) > after)
        .order_by(col(CertificateRow.number))
        .limit(limit)
    ).all()
    items = [
        CertificateSummaryPublic(
            id=r.id,
            scenario=r.scenario,
            quantity_kg=r.quantity_kg,
            issued_at=r.issued_at,
            leaf_index=r.leaf_index,
            revoked=r.revoked_at is not None,
            verify_url=ctx.verify_url(r.id),
        )
        for r in rows
    ]
    return CertificatePagePublic(items=items, next=rows[-1].number if len(rows) == limit else None)


# The document and the proof are sent as the registry stored them (a JSONResponse, not the model):
# the body is what the log leaf commits to, and a verifier hashes it, so no model may reorder or
# drop a member of it; the models describe them in /openapi.json.


@router.get(
    "/certificates/{certificate_id}",
    summary="One certificate: public fields, commitments, proof",
    response_model=CertificateDocumentPublic,
    responses=problem_responses(404, 422),
)
def get_certificate(
    certificate_id: str,
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
) -> JSONResponse:
    try:
        return JSONResponse(document(conn, ctx.log, certificate_id))
    except CertificateNotFoundError as exc:
        raise ApiProblem(404, "Not found", f"{exc}; see /api/v1/certificates") from None


@router.get(
    "/certificates/{certificate_id}/proof",
    summary="The inclusion proof to an anchored tree size",
    response_model=CertificateProofPublic,
    responses=problem_responses(404, 422),
)
def get_proof(
    certificate_id: str,
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
    tree_size: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> JSONResponse:
    try:
        row = certificate_row(conn, certificate_id)
        proof = proof_for(conn, ctx.log, row.leaf_index, tree_size)
    except CertificateNotFoundError as exc:
        raise ApiProblem(404, "Not found", str(exc)) from None
    if proof is None:
        raise ApiProblem(404, "Not anchored yet", f"the log has not been anchored since {certificate_id} was issued")
    return JSONResponse(
        {"certificate_id": certificate_id, "leaf_hash": row.leaf_hash, **proof, "body": json.loads(row.body)}
    )
