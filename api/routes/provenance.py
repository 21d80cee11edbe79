"""Provenance: the custody chain of every serial range a retirement consumed, and the story of
one kilogram (one serial). Read from the mirror's first-in-first-out lots and lot moves."""

from __future__ import annotations

from bisect import bisect_left
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, select
from sqlmodel import col

from api.problems import problem_responses
from api.routes.deps import connection, not_found, shown
from api.schemas.catalog import BatchPublic, MethodologyPublic, ProjectPublic
from api.schemas.provenance import (
    MovePublic,
    RetirementProvenancePublic,
    RetirementPublic,
    SerialProvenancePublic,
)
from certificates.models import CertificateClaim
from chain.types import RetirementId
from indexer.import_origins import import_origin
from indexer.models import BatchRow, Lot, LotMove, MethodologyRow, ProjectRow, Retirement
from offsets.provenance import holding

router = APIRouter(prefix="/provenance", tags=["provenance"], responses=problem_responses(404, 422, 503))

MOVE_FIELDS = tuple(MovePublic.model_fields)  # selected straight from the table, in the shape's order
FIRST, LAST = MOVE_FIELDS.index("first_serial"), MOVE_FIELDS.index("last_serial")


def _batch_context(conn: Connection, batch_id: int, serial: int | None = None) -> dict[str, Any]:
    batch = conn.execute(select(BatchRow).where(col(BatchRow.id) == batch_id)).first()
    if batch is None:
        return {"batch": None, "project": None, "methodology": None}
    project = conn.execute(select(ProjectRow).where(col(ProjectRow.id) == batch.project_id)).first()
    methodology = (
        project and conn.execute(select(MethodologyRow).where(col(MethodologyRow.id) == project.methodology_id)).first()
    )
    b = shown(batch, BatchPublic)
    return {
        "batch": {**b, "last_serial": b["first_serial"] + b["issued"] - 1},
        "issuance": {"tx_hash": batch.tx_hash, "block_number": batch.block_number},
        "project": project and shown(project, ProjectPublic),
        "methodology": methodology and shown(methodology, MethodologyPublic),
        "origin": import_origin(conn, batch_id, serial=serial),
    }


def _moves(conn: Connection, batch_id: int, first: int, last: int) -> list[Any]:
    """The moves of serials first..last in chain order. On the DBAPI cursor: a retirement's custody
    is a thousand rows and more, and SQLAlchemy's row processing cost more than the query."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cur = conn.connection.cursor()
    try:
        cur.execute(
            f"SELECT {', '.join(MOVE_FIELDS)} FROM {LotMove.__tablename__} WHERE batch_id = {mark} "
            f"AND first_serial <= {mark} AND last_serial >= {mark} ORDER BY block_number, log_index, part",
            (batch_id, last, first),
        )
        return list(cur.fetchall())
    finally:
        cur.close()


@router.get(
    "/retirements/{retirement_id}",
    summary="A retirement, its batch and project, and the custody of its serials",
    response_model=RetirementProvenancePublic,
)
def retirement(
    retirement_id: Annotated[str, Path(description=RetirementId.FORM)],
    conn: Annotated[Connection, Depends(connection)],
) -> JSONResponse:
    try:  # the one parser: a hash in capitals (as block explorers show it) names the same retirement
        retirement_id = str(RetirementId.parse(retirement_id))
    except ValueError:
        raise not_found(f"retirement {retirement_id[:120]}", f"ids are {RetirementId.FORM}") from None
    row = conn.execute(select(Retirement).where(col(Retirement.id) == retirement_id)).first()
    if row is None:
        raise not_found(f"retirement {retirement_id}", f"ids are {RetirementId.FORM}")
    ranges = conn.execute(
        select(col(Lot.first_serial), col(Lot.last_serial))
        .where(col(Lot.retirement_id) == retirement_id)
        .order_by(col(Lot.first_serial))
    ).all()
    moves = _moves(conn, row.batch_id, ranges[0][0], ranges[-1][1]) if ranges else []
    # each move to the ranges it overlaps: the ranges are disjoint and sorted, so a bisection finds
    # the first, and the moves, taken in chain order, stay in chain order within every range
    hands: list[list[dict[str, Any]]] = [[] for _ in ranges]
    lasts = [last for _, last in ranges]
    for m in moves:
        move = dict(zip(MOVE_FIELDS, m))
        k = bisect_left(lasts, m[FIRST])  # the first range that ends at or after the move's first serial
        while k < len(ranges) and ranges[k][0] <= m[LAST]:
            hands[k].append(move)
            k += 1
    custody = [
        {"first_serial": first, "last_serial": last, "amount_kg": last - first + 1, "moves": h}
        for (first, last), h in zip(ranges, hands)
    ]
    certificate = conn.execute(
        select(col(CertificateClaim.certificate_id)).where(col(CertificateClaim.retirement_id) == retirement_id)
    ).scalar()
    # plain JSON values already, as the shape lists them: no model or encoder walks every move of
    # every range (a retirement's custody is a thousand moves and more)
    return JSONResponse(
        {
            "retirement": shown(row, RetirementPublic),  # not the beneficiary commitment: certificates carry it
            **_batch_context(conn, row.batch_id),
            "certificate_id": certificate,
            "serial_ranges": custody,
        }
    )


@router.get("/serials/{serial}", summary="Where one kilogram is now, and how it got there")
def serial(
    serial: Annotated[int, Path(ge=0, le=2**62, description="a global serial number (one per kilogram)")],
    conn: Annotated[Connection, Depends(connection)],
) -> SerialProvenancePublic:
    batch = conn.execute(
        select(col(BatchRow.id), col(BatchRow.first_serial), col(BatchRow.issued))
        .where(col(BatchRow.first_serial) <= serial)
        .order_by(col(BatchRow.first_serial).desc())
        .limit(1)
    ).first()
    if batch is None or serial >= batch.first_serial + batch.issued:
        raise not_found(f"serial {serial}", "it was never issued")
    lot = conn.execute(
        select(Lot)
        .where(col(Lot.batch_id) == batch.id, col(Lot.first_serial) <= serial)
        .order_by(col(Lot.first_serial).desc())
        .limit(1)
    ).first()
    moves = _moves(conn, batch.id, serial, serial)
    return SerialProvenancePublic.model_validate(
        {
            "serial": serial,
            "batch_id": batch.id,
            "now": lot
            and {
                "holder": lot.holder,
                "state": lot.state,
                "lot_first": lot.first_serial,
                "lot_last": lot.last_serial,
                "retirement_id": lot.retirement_id,
                "cancellation_id": lot.cancellation_id,
            },
            "moves": [dict(zip(MOVE_FIELDS, m)) for m in moves],
            **_batch_context(conn, batch.id, serial),
            "personal_certificate": (held := holding(conn, serial)) and held.as_json(),
        }
    )
