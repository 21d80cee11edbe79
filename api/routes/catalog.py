"""The registry's catalog as the mirror holds it: methodologies, projects, batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import Connection, select
from sqlmodel import col

from api.problems import ApiProblem, problem_responses
from api.routes.deps import connection, not_found, shown
from api.schemas.catalog import (
    BatchDetailPublic,
    HolderPublic,
    MethodologyPublic,
    ProjectBatchPublic,
    ProjectDetailPublic,
    SupplyPublic,
)
from indexer.models import Balance, BatchRow, Parcel, ProjectRow
from public import lists
from public.errors import PublicQueryError

router = APIRouter(tags=["catalog"], responses=problem_responses(503))


@router.get(
    "/methodologies",
    summary="Every filed methodology with its version and successor, by ecosystem or status",
    responses=problem_responses(422),
)
def methodologies(
    conn: Annotated[Connection, Depends(connection)],
    ecosystem: Annotated[str | None, Query(max_length=40, description="forest, grassland or wetland")] = None,
    status: Annotated[str | None, Query(max_length=40, description="filed, superseded or withdrawn")] = None,
) -> list[MethodologyPublic]:
    try:  # a handful of rows: the whole list, filtered as the public registry filters it (public/lists.py)
        s, f = lists.query("methodologies", {"ecosystem": ecosystem, "status": status})
    except PublicQueryError as exc:
        raise ApiProblem(422, "Invalid request", str(exc)) from None
    rows = conn.execute(lists.ordered(s, f))
    return [MethodologyPublic(**shown(r, MethodologyPublic)) for r in rows]


@router.get(
    "/projects/{project_id}", summary="A project, its parcels and batches", responses=problem_responses(404, 422)
)
def project(project_id: str, conn: Annotated[Connection, Depends(connection)]) -> ProjectDetailPublic:
    row = conn.execute(select(ProjectRow).where(col(ProjectRow.id) == project_id)).first()
    if row is None:
        raise not_found(f"project {project_id}")
    parcels = conn.execute(
        select(col(Parcel.parcel)).where(col(Parcel.project_id) == project_id).order_by(Parcel.parcel)
    ).scalars()
    batches = conn.execute(
        select(col(BatchRow.id), col(BatchRow.vintage), col(BatchRow.issued))
        .where(col(BatchRow.project_id) == project_id)
        .order_by(col(BatchRow.id))
    ).all()
    return ProjectDetailPublic(
        **shown(row, ProjectDetailPublic),
        parcels=list(parcels),
        batches=[ProjectBatchPublic(id=b.id, vintage=b.vintage, issued_kg=b.issued) for b in batches],
    )


@router.get(
    "/batches/{batch_id}",
    summary="A batch: supply buckets, serial range, holders",
    responses=problem_responses(404, 422),
)
def batch(
    batch_id: Annotated[int, Path(ge=0, le=2**62)], conn: Annotated[Connection, Depends(connection)]
) -> BatchDetailPublic:
    row = conn.execute(select(BatchRow).where(col(BatchRow.id) == batch_id)).first()
    if row is None:
        raise not_found(f"batch {batch_id}")
    holders = conn.execute(
        select(Balance)
        .where(col(Balance.batch_id) == batch_id, col(Balance.amount) > 0)
        .order_by(col(Balance.amount).desc())
        .limit(100)
    ).all()
    return BatchDetailPublic(
        **shown(row, BatchDetailPublic),
        last_serial=row.first_serial + row.issued - 1,
        supply=SupplyPublic(
            issued_kg=row.issued,
            circulating_kg=row.issued - row.retired - row.cancelled,
            retired_kg=row.retired,
            cancelled_kg=row.cancelled,
            reserve_kg=row.reserve_amount,
        ),
        holders=[
            HolderPublic(holder=h.holder, amount_kg=h.amount, pledged_kg=h.pledged, frozen_kg=h.frozen) for h in holders
        ],
    )
