"""The parcels' geometry in the registry's database (table `land_parcels`, migrations in
land/migrations, version table `alembic_version_land`, run by certificates/db.py by path).

One row per parcel of a project accepted on chain: its canonical GeoJSON in degrees (the text the
hash is redone from), its geodesic area and its bounding box (the SQLite path reads only the rows
whose box meets the new project's). On PostgreSQL with PostGIS the same text is indexed as a
geometry by a GiST expression index (land/postgis.py), so both databases hold one schema and a
backup restores into either.

Which parcels are live comes from the mirror's `projects` table: a revoked, closed or rejected
project frees its land; a project the mirror has not seen yet (the indexer is behind) still holds it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy import Connection, and_, delete, insert, select
from sqlmodel import col

from indexer.models import ProjectRow
from land.geometry import Parcel
from land.models import TABLES, LandParcelRow
from land.overlap import LiveParcel

FREED = ("revoked", "closed", "rejected")  # project statuses that free their parcels (docs/contract.md)


__all__ = ["TABLES", "LandParcelRow"]  # the table, where callers have always found it
T = LandParcelRow


@dataclass(frozen=True)
class StoredParcel:
    project_id: str
    parcel_id: str
    parcel_hash: str
    geometry: dict[str, Any]
    area_m2: float


def save(conn: Connection, project_id: str, parcels: Sequence[Parcel]) -> None:
    """Store a project's parcels (after the chain accepted them); a re-run replaces them."""
    conn.execute(delete(T).where(col(T.project_id) == project_id))
    rows = []
    for p in parcels:
        min_lon, min_lat, max_lon, max_lat = shapely.bounds(p.shape).tolist()
        rows.append(
            {
                "project_id": project_id,
                "parcel_id": p.parcel_id,
                "parcel_hash": p.hash,
                "geometry": p.text,
                "area_m2": p.area_m2,
                "min_lon": min_lon,
                "min_lat": min_lat,
                "max_lon": max_lon,
                "max_lat": max_lat,
            }
        )
    if rows:
        conn.execute(insert(T), rows)


def project_parcels(conn: Connection, project_id: str) -> list[StoredParcel]:
    if "\x00" in project_id:  # no project id holds NUL (chain/types.short_id), and PostgreSQL refuses it
        return []
    rows = conn.execute(select(T).where(col(T.project_id) == project_id).order_by(col(T.parcel_id))).all()
    return [StoredParcel(r.project_id, r.parcel_id, r.parcel_hash, json.loads(r.geometry), r.area_m2) for r in rows]


def live_condition() -> Any:
    freed = select(col(ProjectRow.id)).where(col(ProjectRow.status).in_(FREED))
    return col(T.project_id).not_in(freed)


def live_parcels(conn: Connection, bbox: tuple[float, float, float, float] | None = None) -> list[LiveParcel]:
    """Every live parcel, or those whose bounding box meets `bbox` (min_lon, min_lat, max_lon, max_lat)."""
    query = select(col(T.project_id), col(T.parcel_id), col(T.geometry), col(T.area_m2)).where(live_condition())
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        query = query.where(
            and_(col(T.max_lon) >= x0, col(T.min_lon) <= x1, col(T.max_lat) >= y0, col(T.min_lat) <= y1)
        )
    rows = conn.execute(query.order_by(col(T.project_id), col(T.parcel_id))).all()
    shapes = shapely.from_geojson([r.geometry for r in rows]) if rows else []
    return [LiveParcel(r.project_id, r.parcel_id, s, r.area_m2) for r, s in zip(rows, shapes, strict=True)]


def live_projects(conn: Connection) -> list[str]:
    query = select(col(T.project_id)).where(live_condition()).distinct().order_by(col(T.project_id))
    return list(conn.execute(query).scalars())


def bounds(parcels: Iterable[Parcel]) -> tuple[float, float, float, float]:
    boxes = [shapely.bounds(p.shape).tolist() for p in parcels]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
