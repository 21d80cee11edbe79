"""The overlap check inside PostgreSQL with PostGIS (installed by .ci/postgres-up in schema `postgis`;
any schema works, it is looked up).

`land_parcels.geometry` holds canonical GeoJSON text on both databases; here a GiST expression
index over `ST_GeomFromGeoJSON(geometry)` (an IMMUTABLE function) makes it a spatial index without a
second column, so the table, its model and its backups are the same as on SQLite. A query is one
statement for all the new parcels: the index's `&&` finds boxes, `ST_Intersects` the real
intersections, and `ST_Area(geography(...))` their area on the WGS 84 spheroid; the same sliver
tolerance as land/overlap.py then decides.
"""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from sqlalchemy import Connection, text

from land.geometry import Parcel
from land.overlap import Conflict, tolerance_m2
from land.store import FREED

FREED_SQL = ", ".join(f"'{s}'" for s in FREED)


def schema(conn: Connection) -> str | None:
    """The schema PostGIS is installed in (quoted for SQL), or None without PostgreSQL or PostGIS.
    Its functions are always called by that name: the schema is kept off the search path, so a
    reflected schema (the migrations' comparison) holds the registry's tables only."""
    if conn.dialect.name != "postgresql":
        return None
    name = conn.execute(
        text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'postgis'")
    ).scalar()
    return None if name is None else str(name)


def available(conn: Connection) -> bool:
    return schema(conn) is not None


def ensure_index(conn: Connection) -> None:
    """The GiST index, made if missing (PostGIS may have been installed after the migration ran)."""
    s = schema(conn)
    if s is not None:
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS land_parcels_geom ON land_parcels USING gist (({s}.st_geomfromgeojson(geometry)))"
            )
        )


def _query(s: str) -> str:
    geom = f"{s}.st_geomfromgeojson(p.geometry)"
    return f"""
WITH new AS MATERIALIZED (
    SELECT n.i, {s}.st_geomfromgeojson(n.g) AS geom
    FROM unnest(CAST(:ids AS integer[]), CAST(:geoms AS text[])) AS n(i, g)
)
SELECT new.i, p.project_id, p.parcel_id, p.area_m2, x.overlap_m2, {s}.st_asgeojson(x.overlap) AS overlap
FROM new
JOIN land_parcels p ON {geom} OPERATOR({s}.&&) new.geom AND {s}.st_intersects({geom}, new.geom)
CROSS JOIN LATERAL (
    SELECT o AS overlap, COALESCE({s}.st_area({s}.geography(o)), 0) AS overlap_m2
    FROM {s}.st_collectionextract({s}.st_intersection({geom}, new.geom), 3) AS o
) x
WHERE p.project_id <> :project AND p.project_id NOT IN (SELECT id FROM projects WHERE status IN ({FREED_SQL}))
"""


def conflicts(conn: Connection, new: Sequence[Parcel], project_id: str) -> list[Conflict]:
    """Conflicts of `new` (parcels of `project_id`) with every other live project's parcels."""
    if not new:
        return []
    s = schema(conn)
    if s is None:
        raise RuntimeError("PostGIS is not installed in this database (run .ci/postgres-up or install postgis)")
    rows = conn.execute(
        text(_query(s)), {"ids": list(range(len(new))), "geoms": [p.text for p in new], "project": project_id}
    ).all()
    found = []
    for i, other_project, other_parcel, other_area, overlap_m2, overlap in rows:
        allowed = tolerance_m2(new[i].area_m2, other_area)
        if overlap_m2 > allowed:
            shape = shapely.from_geojson(overlap) if overlap else None
            found.append(Conflict(new[i].parcel_id, other_project, other_parcel, overlap_m2, allowed, shape))
    return sorted(found, key=Conflict.key)
