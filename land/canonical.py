"""The canonical form of a parcel's geometry, and the parcel hash that goes on chain.

The same land must always give the same bytes, whoever drew it and in whatever order, so:

- coordinates are (longitude, latitude) in degrees, written as the decimal number in the file and
  rounded half-to-even to 7 decimal places (10⁻⁷° is about 1.1 cm of latitude), then held as
  integers in units of 10⁻⁷° (canonical JSON carries integers only: chain/canonical.py);
- consecutive repeated vertices (after rounding) are dropped and every ring is closed;
- exterior rings run counter-clockwise, holes clockwise (the right-hand rule of RFC 7946 §3.1.6);
- every ring starts at its lexicographically smallest vertex (smallest longitude, then latitude);
- a Polygon is a MultiPolygon of one part; holes are sorted within a polygon, polygons by their
  rings, so part order does not matter.

The parcel hash is sha256 of canonical JSON `{"id": parcel_id, "geometry": {"type": "MultiPolygon",
"coordinates": <the integer rings>}}`. docs/land.md has a worked example.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, DecimalException
from typing import Any

from chain.canonical import canonical_json, sha256_hex
from land.errors import LandError

SCALE = 10**7  # integer units per degree: 7 decimal places
# vertices in one parcel, all rings: illustrative, a boundary digitised every metre round a 20 km
# perimeter; the stored parcel is served and drawn on every public page view, and a 10⁶-vertex one
# took 2 s of the API's CPU and 17 MB per request
MAX_VERTICES = 20_000
Vertex = tuple[int, int]
Ring = list[Vertex]
Polygon = list[Ring]  # exterior first, then holes


def to_units(value: Any, where: str) -> int:
    """A coordinate as written (Decimal from the parser, or int/float) in units of 10⁻⁷°."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise LandError(f"{where}: coordinate {value!r} is not a number; write degrees as decimal numbers")
    try:
        scaled = Decimal(str(value)).scaleb(7).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return int(scaled)
    except (DecimalException, ValueError, OverflowError):  # NaN, Infinity, 1e999999999 (Overflow)
        raise LandError(f"{where}: coordinate {value!r} is not a finite number of degrees") from None


def _altitude(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or not Decimal(value).is_finite():
        raise LandError(f"{where}: altitude {value!r} is not a number; give [longitude, latitude] or add metres")


def _twice_area(ring: Ring) -> int:
    """Twice the signed planar area (shoelace, exact on integers): positive when counter-clockwise."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True))


def _ring(points: Any, where: str, *, exterior: bool) -> Ring:
    if not isinstance(points, list):
        raise LandError(f"{where}: a ring must be a list of [longitude, latitude] positions")
    if len(points) > MAX_VERTICES + 1:  # early, before each is read: a closed ring repeats its first
        raise LandError(_too_many(where, len(points) - 1))
    ring: Ring = []
    for n, point in enumerate(points):
        if not isinstance(point, list) or not 2 <= len(point) <= 3:
            raise LandError(f"{where}[{n}]: a position must be [longitude, latitude] (an altitude may follow)")
        if len(point) == 3:  # RFC 7946 §3.1.1's altitude: not part of the land, but it must be a number
            _altitude(point[2], f"{where}[{n}]")
        vertex = (to_units(point[0], f"{where}[{n}]"), to_units(point[1], f"{where}[{n}]"))
        if not (-180 * SCALE <= vertex[0] <= 180 * SCALE and -90 * SCALE <= vertex[1] <= 90 * SCALE):
            raise LandError(
                f"{where}[{n}]: [{point[0]}, {point[1]}] is not a longitude, latitude in degrees; "
                "give WGS 84 or CGCS2000 geographic coordinates, not projected metres"
            )
        if not ring or ring[-1] != vertex:
            ring.append(vertex)
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    if len(ring) < 3:
        raise LandError(f"{where}: the ring has fewer than 3 distinct vertices at 7 decimal places; draw a real area")
    if (_twice_area(ring) > 0) != exterior:  # zero area (a line, a bowtie) keeps its order; validity refuses it
        ring.reverse()
    start = ring.index(min(ring))
    ring = ring[start:] + ring[:start]
    return [*ring, ring[0]]


def _polygon(rings: Any, where: str) -> Polygon:
    if not isinstance(rings, list) or not rings:
        raise LandError(f"{where}: a polygon needs at least its exterior ring")
    exterior = _ring(rings[0], f"{where}[0]", exterior=True)
    holes = sorted(_ring(r, f"{where}[{n}]", exterior=False) for n, r in enumerate(rings[1:], start=1))
    return [exterior, *holes]


def canonical_geometry(geometry: Any, where: str = "geometry") -> dict[str, Any]:
    """A GeoJSON Polygon or MultiPolygon as the canonical MultiPolygon with integer coordinates."""
    if not isinstance(geometry, dict):
        raise LandError(f"{where}: missing; give each parcel a GeoJSON Polygon or MultiPolygon")
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [_polygon(coordinates, f"{where}.coordinates")]
    elif kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise LandError(f"{where}: a MultiPolygon needs at least one polygon")
        polygons = [_polygon(p, f"{where}.coordinates[{n}]") for n, p in enumerate(coordinates)]
    else:
        raise LandError(f"{where}: type {kind!r} is not land; give a Polygon or MultiPolygon (not a point or line)")
    vertices = sum(len(ring) - 1 for polygon in polygons for ring in polygon)
    if vertices > MAX_VERTICES:
        raise LandError(_too_many(where, vertices))
    return {"type": "MultiPolygon", "coordinates": sorted(polygons)}


def _too_many(where: str, count: int) -> str:
    return (
        f"{where}: {count:,} vertices, over the {MAX_VERTICES:,} a parcel may have; simplify the boundary in your GIS"
    )


def as_degrees(canonical: dict[str, Any]) -> dict[str, Any]:
    """The canonical geometry as GeoJSON in degrees (what is stored and served): each number is the
    shortest decimal that reads back to the same 10⁻⁷° integer, so anyone can redo the hash."""
    return {
        "type": "MultiPolygon",
        "coordinates": [
            [[[x / SCALE, y / SCALE] for x, y in ring] for ring in polygon] for polygon in canonical["coordinates"]
        ],
    }


def parcel_hash(parcel_id: str, canonical: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of the parcel's id and canonical geometry."""
    geometry = {"type": "MultiPolygon", "coordinates": _lists(canonical["coordinates"])}
    return sha256_hex(canonical_json({"id": parcel_id, "geometry": geometry}))


def _lists(value: Any) -> Any:
    return [_lists(v) for v in value] if isinstance(value, (list, tuple)) else value
