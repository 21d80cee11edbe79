"""A project's parcels as GeoJSON, so that anyone can redo the overlap check and the hashes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import Connection, select
from sqlmodel import col

from api.problems import problem_responses
from api.routes.deps import connection, not_found
from api.schemas.land import ParcelFeaturePublic, ProjectParcelsPublic
from indexer.models import ProjectRow
from land.store import project_parcels

router = APIRouter(tags=["land"], responses=problem_responses(503))


@router.get(
    "/projects/{project_id}/parcels",
    summary="A project's land parcels as a GeoJSON FeatureCollection (canonical geometry and on-chain hash)",
    responses=problem_responses(404, 422),
)
def parcels(
    project_id: Annotated[str, Path(max_length=32, description="e.g. P-511802-0001")],
    conn: Annotated[Connection, Depends(connection)],
) -> ProjectParcelsPublic:
    if "\x00" in project_id:  # no project id holds NUL, and PostgreSQL refuses it in a query (a 500)
        raise not_found(f"project {project_id!r}", "check the id (GET /api/v1/projects)")
    stored = project_parcels(conn, project_id)
    if not stored and conn.execute(select(col(ProjectRow.id)).where(col(ProjectRow.id) == project_id)).first() is None:
        raise not_found(f"project {project_id}", "check the id (GET /api/v1/projects)")
    features = [
        ParcelFeaturePublic(
            id=p.parcel_id,
            properties={"parcel_id": p.parcel_id, "parcel_hash": p.parcel_hash, "area_m2": round(p.area_m2, 1)},
            geometry=p.geometry,
        )
        for p in stored
    ]
    return ProjectParcelsPublic(project_id=project_id, features=features)
