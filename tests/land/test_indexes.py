"""The stored parcels, which of them are live, and the two indexes agreeing: an STRtree over the
SQLite rows and PostGIS's GiST index on PostgreSQL give the same conflicts, with the same areas to
within a square metre, on the same random land."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine, insert

from indexer.models import ProjectRow
from land import postgis
from land.check import check, find_conflicts
from land.errors import ParcelOverlapError
from land.geometry import Parcel
from land.overlap import StrtreeIndex
from land.store import live_parcels, live_projects, project_parcels, save
from tests.land.shapes import parcel, rect


def _project(conn: object, project_id: str, status: str) -> None:
    conn.execute(  # type: ignore[attr-defined]  # a SQLAlchemy Connection
        insert(ProjectRow).values(
            id=project_id,
            methodology_id="SCFM-001-V01",
            owner="0x" + "11" * 20,
            county_code=511802,
            area_square_metres=1,
            crediting_start=0,
            crediting_end=1,
            documents_hash="00",
            status=status,
        )
    )


def random_land(seed: int) -> tuple[dict[str, list[Parcel]], list[Parcel]]:
    """Six projects of 40 rectangles (20-120 m sides) scattered over 2 km × 2 km, and 60 new ones."""
    rng = random.Random(seed)

    def some(prefix: str, n: int) -> list[Parcel]:
        out = []
        for k in range(n):
            x, y, w, h = rng.uniform(0, 2000), rng.uniform(0, 2000), rng.uniform(20, 120), rng.uniform(20, 120)
            out.append(parcel(f"{prefix}-{k:03}", rect(x, y, w, h)))
        return out

    projects = {f"P-{n}": some(f"P{n}", 40) for n in range(6)}
    return projects, some("NEW", 60)


def _load(engine: Engine, projects: dict[str, list[Parcel]]) -> None:
    with engine.begin() as conn:
        for n, (project_id, parcels) in enumerate(projects.items()):
            _project(conn, project_id, ["registered", "submitted", "suspended", "revoked", "closed", "rejected"][n])
            save(conn, project_id, parcels)


def _answers(conflicts: list) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]  # list of Conflict
    return [c.key() for c in conflicts]


def test_revoked_closed_and_rejected_projects_free_their_land(sqlite_engine: Engine) -> None:
    a = parcel("A-1", rect(0, 0, 100, 100))
    with sqlite_engine.begin() as conn:
        _project(conn, "P-OLD", "revoked")
        save(conn, "P-OLD", [a])
        save(conn, "P-UNSEEN", [parcel("U-1", rect(500, 0, 100, 100))])  # not mirrored yet: still holds it
        assert live_projects(conn) == ["P-UNSEEN"]
        check(conn, "P-NEW", [parcel("A-1", rect(0, 0, 100, 100))])  # the revoked land is free again
        with pytest.raises(
            ParcelOverlapError, match=r"parcel N-1 overlaps project P-UNSEEN's parcel U-1 by 9,999.8 m²"
        ):
            check(conn, "P-NEW", [parcel("N-1", rect(500, 0, 100, 100))])
        stored = project_parcels(conn, "P-OLD")
    assert [(s.parcel_id, s.parcel_hash, s.geometry) for s in stored] == [("A-1", a.hash, a.geojson)]


def test_the_strtree_and_postgis_give_the_same_answers(sqlite_engine: Engine, pg_engine: Engine) -> None:
    projects, new = random_land(15)
    _load(sqlite_engine, projects)
    _load(pg_engine, projects)
    with sqlite_engine.connect() as lite, pg_engine.connect() as pg:
        assert not postgis.available(lite) and postgis.available(pg)
        tree = StrtreeIndex(live_parcels(lite)).conflicts(new, "P-NEW")
        gist = postgis.conflicts(pg, new, "P-NEW")
        # the freed projects (P-3, P-4, P-5) never appear; live ones (P-0..P-2) do
        assert {c.other_project for c in tree} <= {"P-0", "P-1", "P-2"} and len(tree) >= 5
        assert _answers(tree) == _answers(gist)
        for t, g in zip(tree, gist, strict=True):
            assert t.overlap_m2 == pytest.approx(g.overlap_m2, abs=1.0)
        # the check the CLI runs picks the index by database, and answers the same
        assert _answers(find_conflicts(lite, "P-NEW", new)) == _answers(find_conflicts(pg, "P-NEW", new))
        explained = (
            pg.exec_driver_sql(
                "EXPLAIN "
                + postgis._query(postgis.schema(pg) or "")
                .replace(":ids", "ARRAY[0]")
                .replace(":geoms", 'ARRAY[\'{"type":"Point","coordinates":[0,0]}\']')
                .replace(":project", "'x'")
            )
            .scalars()
            .all()
        )
    assert any("land_parcels_geom" in line for line in explained)  # the GiST index is the one used
