"""The registry's catalog as the mirror holds it: methodologies, projects, batches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import Connection, select

from api.problems import PROBLEM_RESPONSES
from api.routes.deps import connection, not_found, row_dict
from indexer.models import Balance, BatchRow, Methodology, Parcel, Project

router = APIRouter(tags=["catalog"], responses=PROBLEM_RESPONSES)


@router.get("/methodologies", summary="Every filed methodology")
def methodologies(conn: Annotated[Connection, Depends(connection)]) -> list[dict[str, Any]]:
    return [row_dict(r) for r in conn.execute(select(Methodology).order_by(Methodology.id))]


@router.get("/projects/{project_id}", summary="A project, its parcels and batches")
def project(project_id: str, conn: Annotated[Connection, Depends(connection)]) -> dict[str, Any]:
    row = conn.execute(select(Project).where(Project.id == project_id)).first()
    if row is None:
        raise not_found(f"project {project_id}")
    parcels = conn.execute(
        select(Parcel.parcel).where(Parcel.project_id == project_id).order_by(Parcel.parcel)
    ).scalars()
    batches = conn.execute(
        select(BatchRow.id, BatchRow.vintage, BatchRow.issued)
        .where(BatchRow.project_id == project_id)
        .order_by(BatchRow.id)
    ).all()
    return {
        **row_dict(row),
        "parcels": list(parcels),
        "batches": [{"id": b.id, "vintage": b.vintage, "issued_kg": b.issued} for b in batches],
    }


@router.get("/batches/{batch_id}", summary="A batch: supply buckets, serial range, holders")
def batch(
    batch_id: Annotated[int, Path(ge=0, le=2**62)], conn: Annotated[Connection, Depends(connection)]
) -> dict[str, Any]:
    row = conn.execute(select(BatchRow).where(BatchRow.id == batch_id)).first()
    if row is None:
        raise not_found(f"batch {batch_id}")
    holders = conn.execute(
        select(Balance)
        .where(Balance.batch_id == batch_id, Balance.amount > 0)
        .order_by(Balance.amount.desc())
        .limit(100)
    ).all()  # type: ignore[attr-defined]
    b = row_dict(row)
    return {
        **b,
        "last_serial": b["first_serial"] + b["issued"] - 1,
        "supply": {
            "issued_kg": row.issued,
            "circulating_kg": row.issued - row.retired - row.cancelled,
            "retired_kg": row.retired,
            "cancelled_kg": row.cancelled,
            "reserve_kg": row.reserve_amount,
        },
        "holders": [
            {"holder": h.holder, "amount_kg": h.amount, "pledged_kg": h.pledged, "frozen_kg": h.frozen} for h in holders
        ],
    }
