"""Certificates: the list, one certificate (public fields only), its inclusion proof."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection, select

from api.problems import PROBLEM_RESPONSES, ApiProblem
from api.routes.deps import connection, context
from certificates.context import ServiceContext
from certificates.copies import NotFound, certificate_row, document, proof_for
from certificates.models import CertificateRow

router = APIRouter(tags=["certificates"], responses=PROBLEM_RESPONSES)


@router.get("/certificates", summary="Certificates, newest last, in pages")
def list_certificates(
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
    after: Annotated[int, Query(ge=0, le=2**62, description="the last number of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    rows = conn.execute(
        select(
            CertificateRow.id,
            CertificateRow.number,
            CertificateRow.scenario,
            CertificateRow.quantity_kg,
            CertificateRow.issued_at,
            CertificateRow.leaf_index,
            CertificateRow.revoked_at,
        )
        .where(CertificateRow.number > after)
        .order_by(CertificateRow.number)
        .limit(limit)
    ).all()
    items = [
        {
            "id": r.id,
            "scenario": r.scenario,
            "quantity_kg": r.quantity_kg,
            "issued_at": r.issued_at,
            "leaf_index": r.leaf_index,
            "revoked": r.revoked_at is not None,
            "verify_url": ctx.verify_url(r.id),
        }
        for r in rows
    ]
    return {"items": items, "next": rows[-1].number if len(rows) == limit else None}


@router.get("/certificates/{certificate_id}", summary="One certificate: public fields, commitments, proof")
def get_certificate(
    certificate_id: str,
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
) -> dict[str, Any]:
    try:
        return document(conn, ctx.log, certificate_id)
    except NotFound as exc:
        raise ApiProblem(404, "Not found", f"{exc}; see /api/v1/certificates") from None


@router.get("/certificates/{certificate_id}/proof", summary="The inclusion proof to an anchored tree size")
def get_proof(
    certificate_id: str,
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
    tree_size: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    try:
        row = certificate_row(conn, certificate_id)
        proof = proof_for(conn, ctx.log, row.leaf_index, tree_size)
    except NotFound as exc:
        raise ApiProblem(404, "Not found", str(exc)) from None
    if proof is None:
        raise ApiProblem(404, "Not anchored yet", f"the log has not been anchored since {certificate_id} was issued")
    return {"certificate_id": certificate_id, "leaf_hash": row.leaf_hash, **proof, "body": json.loads(row.body)}
