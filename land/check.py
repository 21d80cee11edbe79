"""The overlap check a registration runs before anything is sent: within the file, then against
every other live project's stored parcels, by PostGIS where the database has it, else by an
STRtree over the live parcels whose bounding boxes meet the new project's."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from land import postgis
from land.errors import ParcelOverlapError
from land.geometry import Parcel
from land.overlap import Conflict, StrtreeIndex, within_file
from land.store import bounds, live_parcels


def find_conflicts(conn: Connection, project_id: str, parcels: Sequence[Parcel]) -> list[Conflict]:
    if not parcels:
        return []
    if postgis.available(conn):
        others = postgis.conflicts(conn, parcels, project_id)
    else:
        others = StrtreeIndex(live_parcels(conn, bounds(parcels))).conflicts(parcels, project_id)
    return within_file(parcels) + others


def check(conn: Connection, project_id: str, parcels: Sequence[Parcel]) -> None:
    """Refuse (ParcelOverlapError, naming the first conflict) parcels that overlap beyond a sliver."""
    found = find_conflicts(conn, project_id, parcels)
    if found:
        raise ParcelOverlapError(found)
