"""Hostile use of the land-parcel domain (issue 15: land/, `ledger project register --parcels`, the
parcels API, the land audit). Each test here failed before its fix; its docstring says how. What
they pin: a parcel file is refused in one line naming the problem and the fix (never a crash), a
parcel means the same land to the area check and to the overlap check, an id cannot hide
invisible or look-alike characters, a crash after the chain accepted a registration is healed by
running the command again, and the audit sees overlaps inside one project too."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from api.app import create_app
from certificates.context import ServiceContext
from certificates.settings import ServiceSettings
from chain.rpc import JsonRpc
from indexer.db import make_engine
from land.errors import LandError
from land.geometry import make_parcel, parse_parcels
from land.store import LandParcelRow, project_parcels, save
from scripts.context import deployment
from tests.land.conftest import pg_engine, sqlite_engine  # noqa: F401  # fixtures
from tests.land.shapes import collection, rect, ring
from tests.land.test_cli import ledger, register  # noqa: F401  # ledger: a fixture (a fresh registry on anvil)


def _feature_file(geometry_text: str, **members: Any) -> str:
    """A one-parcel FeatureCollection with `geometry_text` pasted in as written (so that numbers
    JSON cannot produce from a float, like 1e999999999, reach the parser)."""
    extra = "".join(f', "{k}": {json.dumps(v)}' for k, v in members.items())
    return (
        '{"type": "FeatureCollection"' + extra + ', "features": [{"type": "Feature", '
        '"properties": {"parcel_id": "YA-1"}, "geometry": ' + geometry_text + "}]}"
    )


def test_a_parcel_across_the_antimeridian_is_refused_not_a_band_round_the_globe() -> None:
    """Before: a ring from 179.999°E to 179.999°W was a 21,391 m² parcel to the area check (pyproj
    takes the short geodesic way across 180°) but a 359.998°-wide band to the overlap check (shapely
    and PostGIS cut straight lines in degrees), so one small parcel refused every parcel in its
    latitude band anywhere on Earth: a 100 m × 50 m parcel at 103°E overlapped it by 5,000.4 m².
    Now a polygon part spanning more than MAX_PART_DEGREES is refused; split at ±180° it is fine."""
    band = [[179.999, 30.0], [-179.999, 30.0], [-179.999, 30.001], [179.999, 30.001], [179.999, 30.0]]
    with pytest.raises(LandError, match=r"parcel BAND spans 359\.998° of longitude.*split it"):
        make_parcel("BAND", {"type": "Polygon", "coordinates": [band]})
    # the same land split at the antimeridian: two parts, each 0.001° wide, 2 × 10,695.6 m² in all
    east = [[179.999, 30.0], [180.0, 30.0], [180.0, 30.001], [179.999, 30.001], [179.999, 30.0]]
    west = [[-180.0, 30.0], [-179.999, 30.0], [-179.999, 30.001], [-180.0, 30.001], [-180.0, 30.0]]
    split = make_parcel("SPLIT", {"type": "MultiPolygon", "coordinates": [[east], [west]]})
    assert split.area_m2 == pytest.approx(21_391.4, abs=0.1)
    # a pole-circling ring is refused the same way (its edges span the whole globe)
    polar = [[-179.0, 89.9], [179.0, 89.9], [179.0, 89.95], [-179.0, 89.95], [-179.0, 89.9]]
    with pytest.raises(LandError, match="spans 358° of longitude"):
        make_parcel("POLE", {"type": "Polygon", "coordinates": [polar]})


def test_an_exponent_too_large_for_decimal_is_one_line() -> None:
    """Before: a coordinate written 1e999999999 raised decimal.Overflow out of the parser (the CLI
    said "unexpected Overflow; this is a bug"); 1e400 was already refused in one line."""
    geometry = (
        '{"type": "Polygon", "coordinates": [[[1e999999999, 30], [103, 30.1], [103.1, 30.1], [1e999999999, 30]]]}'
    )
    with pytest.raises(LandError, match=r"coordinate .* is not a finite number of degrees"):
        parse_parcels(_feature_file(geometry))


def test_a_crs_member_whose_properties_are_not_an_object_is_one_line() -> None:
    """Before: `"crs": {"type": "name", "properties": "EPSG:3857"}` raised AttributeError ('str'
    object has no attribute 'get') instead of naming the CRS problem."""
    geometry = json.dumps(rect(0, 0, 100, 100))
    with pytest.raises(LandError, match=r"is in CRS .*give WGS 84 \(EPSG:4326\) or CGCS2000"):
        parse_parcels(_feature_file(geometry, crs={"type": "name", "properties": "EPSG:3857"}))


def test_json_nested_too_deeply_is_one_line() -> None:
    """Before: 100,000 nested arrays killed the process with a segmentation fault: py_ecc (imported
    with the chain client) raises Python's recursion limit to 100,000, so json.loads overflowed the C
    stack instead of raising RecursionError (without py_ecc it raised RecursionError: still a crash).
    Now the nesting depth is measured before parsing and over 64 levels is refused in one line."""
    with pytest.raises(LandError, match="nested too deeply"):
        parse_parcels("[" * 100_000 + "]" * 100_000)
    with pytest.raises(LandError, match="nested too deeply"):
        parse_parcels(_feature_file("[" * 50_000 + "]" * 50_000))


def test_a_crs_named_on_a_feature_or_a_geometry_is_not_ignored() -> None:
    """Before: only the top-level `crs` was read; a feature or geometry declaring EPSG:3857 (or a
    projected CGCS2000 zone, EPSG:4549) was taken as degrees without a word."""
    mercator = {"type": "name", "properties": {"name": "EPSG:3857"}}
    on_geometry = _feature_file(json.dumps({**rect(0, 0, 100, 100), "crs": mercator}))
    with pytest.raises(LandError, match=r"feature 1 is in CRS 'EPSG:3857'"):
        parse_parcels(on_geometry)
    zone = {"type": "name", "properties": {"name": "EPSG:4549"}}
    on_feature = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "crs": zone, "properties": {"parcel_id": "A"}, "geometry": rect(0, 0, 50, 50)}
        ],
    }
    with pytest.raises(LandError, match=r"feature 1 is in CRS 'EPSG:4549'"):
        parse_parcels(json.dumps(on_feature))
    # naming CGCS2000 geographic on a feature is fine
    cgcs = {"type": "name", "properties": {"name": "EPSG:4490"}}
    fine = {**on_feature, "features": [{**on_feature["features"][0], "crs": cgcs}]}
    assert [p.parcel_id for p in parse_parcels(json.dumps(fine))] == ["A"]


@pytest.mark.parametrize(
    ("parcel_id", "why"),
    [
        ("P1\u200b", "invisible"),  # zero-width space: looks like P1
        ("Ｐ1", "write it as 'P1'"),  # full-width P: looks like P1
        ("A\x1b[31mRED", "invisible"),  # a terminal escape: recolours the operator's terminal, breaks the SVG
        ("A\nB", "invisible"),
    ],
)
def test_a_parcel_id_with_invisible_or_look_alike_characters_is_refused(parcel_id: str, why: str) -> None:
    """Before: `P1`, full-width `Ｐ1` and `P1\\u200b` were three different parcels with three hashes
    (one file could list "P1" twice as far as any reader could see), and an id carrying a terminal
    escape or a newline was stored, printed and drawn as is (an SVG with ESC in it is not XML)."""
    text = json.dumps(collection(("P1", rect(0, 0, 100, 100)), (parcel_id, rect(200, 0, 100, 100))))
    with pytest.raises(LandError, match=why):
        parse_parcels(text)


def test_the_minimum_area_refusal_never_says_400_is_below_400() -> None:
    """Before: a 20 m × 20 m square (399.987 m² once its corners are at 7 decimals) was refused as
    "400.0 m², below the 400 m² minimum parcel": the figure was rounded up past the limit."""
    with pytest.raises(LandError, match=r"is 399\.98 m², below the 400 m² minimum"):
        make_parcel("SMALL", {"type": "Polygon", "coordinates": [ring(0, 0, 20, 20)]})


def test_a_position_with_a_non_numeric_altitude_or_extra_members_is_refused() -> None:
    """Before: `[103.0, 30.0, "zzz"]` and five-number positions were read as 2D without a word (a
    column shifted by a spreadsheet would pass); an altitude in metres is still allowed and ignored."""
    corners = ring(0, 0, 100, 100)
    with pytest.raises(LandError, match="altitude"):
        make_parcel("Z", {"type": "Polygon", "coordinates": [[[x, y, "zzz"] for x, y in corners]]})
    with pytest.raises(LandError, match="longitude, latitude"):
        make_parcel("Z", {"type": "Polygon", "coordinates": [[[x, y, 1.0, 2.0, 3.0] for x, y in corners]]})
    flat = make_parcel("Z", {"type": "Polygon", "coordinates": [corners]})
    assert make_parcel("Z", {"type": "Polygon", "coordinates": [[[x, y, 1500.5] for x, y in corners]]}) == flat


def test_the_audit_reports_parcels_of_one_project_overlapping_each_other(sqlite_engine: Engine) -> None:  # noqa: F811
    """Before: the audit compared only parcels of different projects, so two parcels of one project
    planted over each other in the database (registration refuses that within a file) went unseen."""
    from audit.land import audit_land

    a, b = make_parcel("A-1", rect(0, 0, 100, 100)), make_parcel("A-2", rect(50, 0, 100, 100))
    with sqlite_engine.begin() as conn:
        save(conn, "P-A", [a])
        conn.execute(insert(LandParcelRow).values(**_row("P-A", b)))  # planted: 50 m × 100 m on A-1
    found: list[tuple[str, str, str]] = []
    with sqlite_engine.connect() as conn:
        checked = audit_land(conn, lambda hashes: ["P-A"] * len(hashes), lambda *d: found.append(d))
    assert checked["parcel overlaps"] == 1
    ((check, subject, detail),) = found
    assert (check, subject) == ("land", "parcel A-1 of P-A")
    assert detail.startswith("parcel A-1 overlaps project P-A's parcel A-2 by 4,99")  # 50 m × 100 m ≈ 4,999.9 m²


def _row(project_id: str, p: Any) -> dict[str, Any]:
    x0, y0, x1, y1 = p.shape.bounds
    return {
        "project_id": project_id,
        "parcel_id": p.parcel_id,
        "parcel_hash": p.hash,
        "geometry": p.text,
        "area_m2": p.area_m2,
        "min_lon": x0,
        "min_lat": y0,
        "max_lon": x1,
        "max_lat": y1,
    }


def test_a_crash_after_the_chain_accepted_is_healed_by_running_register_again(
    ledger,  # noqa: F811  # the fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: if `ledger project register` died (kill -9, power cut) after the chain accepted the
    registration and before the geometry was stored, the project held its parcels on chain with no
    land in the database, so nothing stopped another project registering the same land, and running
    the command again only failed ("operation already applied" with the same --op-id, "project
    already exists" without): no re-run could ever store the land. Here the death is the store
    raising; the re-run now sees the chain hold exactly these parcels for the project and stores them."""
    import scripts.projects

    file = tmp_path / "a.geojson"
    file.write_text(json.dumps(collection(("YA-1", rect(0, 0, 100, 100)))))

    def killed(*_: object) -> None:
        raise KeyboardInterrupt  # where a kill -9 would stop the process: after the chain, before the store

    with monkeypatch.context() as m:
        m.setattr(scripts.projects, "store_land", killed)
        assert register(ledger, "P-A", file, 10_000, "--op-id", "77", ok=False).exit_code == 130
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}")
    with engine.connect() as conn:
        assert project_parcels(conn, "P-A") == []  # the chain holds the parcel, the database has no land

    again = register(ledger, "P-A", file, 10_000, "--op-id", "77")
    assert "already registered" in again.output
    with engine.connect() as conn:
        (stored,) = project_parcels(conn, "P-A")
    assert stored.parcel_hash == parse_parcels(file.read_text())[0].hash
    # and the land now blocks the same land under another id
    other = tmp_path / "b.geojson"
    other.write_text(json.dumps(collection(("LQ-7", rect(0, 0, 100, 100)))))
    refused = register(ledger, "P-B", other, 10_000, ok=False)
    assert "parcel LQ-7 overlaps project P-A's parcel YA-1" in " ".join(refused.output.split())
    engine.dispose()


def test_a_project_id_with_nul_is_404_not_500_on_postgresql(ledger, anvil, pg_engine: Engine) -> None:  # noqa: F811
    """Before: GET /api/v1/projects/P-X%00/parcels and /explorer/project/P-X%00 answered 500 on
    PostgreSQL (psycopg refuses a NUL in a text parameter); SQLite answered 404 and 200."""
    ctx = ServiceContext(pg_engine, deployment(), ServiceSettings(), rpc=JsonRpc(anvil.url))
    with TestClient(create_app(ctx), raise_server_exceptions=False) as api:
        for path in ("/api/v1/projects/P-X%00/parcels", "/api/v1/projects/%00/parcels"):
            answer = api.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["detail"].startswith("no project ")
        page = api.get("/explorer/project/P-X%00")
        assert page.status_code == 200 and "no parcel geometry stored for this project" in page.text


def test_two_registrations_of_overlapping_land_at_once_cannot_both_pass(
    ledger,  # noqa: F811  # the fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: registration P-B of the same land, started while P-A's transaction was on its way
    (after P-A's check, before P-A's land was stored), passed the overlap check too; both were
    accepted on chain (their hashes differ: other ids) and both stored 10,000 m² of the same land.
    Here P-B runs inside P-A's send, the tightest interleaving; now it waits for the land lock
    (land/lock.py, shortened to 0.3 s here) and is refused in one line, and once P-A is stored a
    re-run of P-B is refused for the overlap itself."""
    import land.lock
    import scripts.projects

    monkeypatch.setattr(land.lock, "WAIT_S", 0.3)
    a, b = tmp_path / "a.geojson", tmp_path / "b.geojson"
    a.write_text(json.dumps(collection(("YA-1", rect(0, 0, 100, 100)))))
    b.write_text(json.dumps(collection(("LQ-7", rect(0, 0, 100, 100)))))  # the same land, another id
    real_run_write = scripts.projects.run_write
    during: list[Any] = []

    def send_a_while_b_registers(*args: Any, **kwargs: Any) -> None:
        if not during:  # P-A's send (P-B's own, inside it, goes straight through)
            during.append(None)
            during[0] = register(ledger, "P-B", b, 10_000, ok=False)
        real_run_write(*args, **kwargs)

    monkeypatch.setattr(scripts.projects, "run_write", send_a_while_b_registers)
    register(ledger, "P-A", a, 10_000)
    (racing,) = during
    assert racing.exit_code == 1 and "another land registration has held the parcel lock" in racing.output
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}")
    with engine.connect() as conn:
        assert [p.parcel_id for p in project_parcels(conn, "P-A")] == ["YA-1"]
        assert project_parcels(conn, "P-B") == []
    engine.dispose()
    again = register(ledger, "P-B", b, 10_000, ok=False)
    assert "parcel LQ-7 overlaps project P-A's parcel YA-1 by 9,999.8 m²" in " ".join(again.output.split())


def test_the_land_lock_holds_across_connections_on_postgresql(
    pg_engine: Engine,  # noqa: F811  # the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same finding on PostgreSQL, where registrations may run on several machines: while one
    holds the advisory lock, a second (another connection) is refused; after, it gets the lock."""
    import land.lock

    monkeypatch.setattr(land.lock, "WAIT_S", 0.2)
    refused = pytest.raises(LandError, match="another land registration has held the parcel lock")
    with land.lock.registration_lock(pg_engine), refused, land.lock.registration_lock(pg_engine):
        pass
    with land.lock.registration_lock(pg_engine):
        pass


def test_a_parcel_of_a_million_vertices_is_refused_before_it_is_served_to_everyone() -> None:
    """Before: a 10⁶-vertex ring (a 0.01° circle) was accepted after 10 s of parsing, stored, and then
    served by GET /projects/{id}/parcels (2 s of CPU, 16.7 MB per request) and drawn on the public
    explorer page (8.5 MB of SVG per view). Now a parcel has at most MAX_VERTICES, refused early."""
    from land.canonical import MAX_VERTICES

    def circle(n: int) -> list[list[float]]:
        points = [
            [round(103 + 0.01 * math.cos(2 * math.pi * k / n), 7), round(30 + 0.01 * math.sin(2 * math.pi * k / n), 7)]
            for k in range(n)
        ]
        return [*points, points[0]]

    with pytest.raises(LandError, match=r"1,000,000 vertices, over the 20,000 a parcel may have; simplify"):
        make_parcel("BIG", {"type": "Polygon", "coordinates": [circle(1_000_000)]})
    # the limit counts every ring: a 15,000-vertex shell with a 6,000-vertex hole is over it too
    hole = [[103 + (x - 103) / 2, 30 + (y - 30) / 2] for x, y in reversed(circle(6_000))]
    with pytest.raises(LandError, match=r"21,000 vertices"):
        make_parcel("HOLED", {"type": "Polygon", "coordinates": [circle(15_000), hole]})
    assert (
        len(make_parcel("OK", {"type": "Polygon", "coordinates": [circle(MAX_VERTICES)]}).geojson["coordinates"][0][0])
        == MAX_VERTICES + 1
    )


def test_a_parcel_file_starting_with_a_utf8_bom_is_read(tmp_path: Path) -> None:
    """Before: a GeoJSON saved as "UTF-8 with BOM" (Windows Notepad, Excel) was refused as "is not
    JSON", and a CSV so saved as "needs a parcel_id column" (its header read '\\ufeffparcel_id')."""
    from scripts.parcels import read_parcels

    bom = b"\xef\xbb\xbf"
    geojson = tmp_path / "bom.geojson"
    geojson.write_bytes(bom + json.dumps(collection(("YA-1", rect(0, 0, 100, 100)))).encode())
    assert [p.parcel_id for p in read_parcels(geojson).parcels] == ["YA-1"]
    table = tmp_path / "bom.csv"
    table.write_bytes(bom + b"parcel_id\nYA-1\n")
    assert len(read_parcels(table).hashes) == 1
