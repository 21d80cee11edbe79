"""Parcels read from GeoJSON, validated as land and measured on the ellipsoid.

Accepted: a FeatureCollection (or one Feature) whose features carry `properties.parcel_id` (the
小班 code or the forest-right certificate number) and a Polygon or MultiPolygon geometry, in WGS 84
(RFC 7946's default, no `crs` member) or CGCS2000 (EPSG:4490, named in the 2008 `crs` member).
CGCS2000 and WGS 84 longitudes and latitudes differ by centimetres, so both are taken as the same
lon/lat grid (docs/land.md). A polygon that is not valid is refused with GEOS's reason, never
repaired: repairing would change the land the owner declared.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from land.canonical import as_degrees, canonical_geometry, parcel_hash
from land.errors import LandError

MIN_PARCEL_M2 = 400.0  # CCER-14-001-V01 碳汇造林: a parcel of at least 400 m² (research note §4.1, issue 15)
# the declared project area may differ from the parcels' geodesic sum by this share: illustrative (no
# published figure found); it absorbs survey rounding, not a missing parcel
AREA_TOLERANCE = 0.01
# a polygon part may span at most this many degrees of longitude or latitude: its edges are straight
# in degrees to the overlap check and geodesics to the area, which agree to well under the area
# tolerance at this size (about 0.1 % for a 1° square at 30°N) and not at all across the antimeridian
# or round a pole; 1° (about 100 km) is illustrative, far above any 小班 or forest-right plot
MAX_PART_DEGREES = 1.0
MAX_DEPTH = 64  # JSON nesting: GeoJSON needs 8; deeper crashes the parser (py_ecc sets a 100,000 recursion limit)
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # control, format (zero-width), unassigned, separators
_GEOD = Geod(ellps="WGS84")  # GRS80 (CGCS2000's ellipsoid) differs in the 11th digit of flattening
_CRS_NAMES = {
    "urn:ogc:def:crs:ogc:1.3:crs84": "WGS 84",
    "epsg:4326": "WGS 84",
    "urn:ogc:def:crs:epsg::4326": "WGS 84",
    "epsg:4490": "CGCS2000",
    "urn:ogc:def:crs:epsg::4490": "CGCS2000",
}


@dataclass(frozen=True)
class Parcel:
    """One parcel in canonical form: `canonical` has integer 10⁻⁷° coordinates (land/canonical.py)."""

    parcel_id: str
    canonical: dict[str, Any]

    @cached_property
    def geojson(self) -> dict[str, Any]:
        return as_degrees(self.canonical)

    @cached_property
    def text(self) -> str:
        return json.dumps(self.geojson, separators=(",", ":"))

    @cached_property
    def shape(self) -> BaseGeometry:
        return shapely.from_geojson(self.text)

    @cached_property
    def area_m2(self) -> float:
        return geodesic_area(self.shape)

    @cached_property
    def hash(self) -> str:
        return parcel_hash(self.parcel_id, self.canonical)


def geodesic_area(shape: BaseGeometry) -> float:
    """Area in m² on the WGS 84 ellipsoid of the polygonal parts of `shape` (lines and points: 0):
    each exterior ring's area less its holes', whichever way the rings run."""
    total = 0.0
    for part in shapely.get_parts(shapely.get_parts(shape)):  # a collection's parts, then a multi's
        if part.geom_type != "Polygon":
            continue
        for n, ring in enumerate([part.exterior, *part.interiors]):
            xy = shapely.get_coordinates(ring)
            area = abs(_GEOD.polygon_area_perimeter(xy[:, 0], xy[:, 1])[0])
            total += area if n == 0 else -area
    return total


def parse_parcels(text: str, source: str = "the parcel file") -> list[Parcel]:
    """Every parcel of a GeoJSON text, each valid, at least MIN_PARCEL_M2, ids unique."""
    if _depth(text) > MAX_DEPTH:
        raise LandError(f"{source} is nested too deeply (over {MAX_DEPTH} levels) to be GeoJSON parcels")
    try:
        document = json.loads(text, parse_float=Decimal)
    except RecursionError:
        raise LandError(f"{source} is nested too deeply to be GeoJSON parcels") from None
    except ValueError:
        raise LandError(f"{source} is not JSON; give a GeoJSON FeatureCollection of parcels") from None
    if not isinstance(document, dict):
        raise LandError(f"{source} is not a GeoJSON object; give a FeatureCollection of parcels")
    _check_crs(document, source)
    if document.get("type") == "Feature":
        features: Any = [document]
    elif document.get("type") == "FeatureCollection" and isinstance(document.get("features"), list):
        features = document["features"]
    else:
        raise LandError(f"{source} is not a GeoJSON FeatureCollection; give one with a feature per parcel")
    parcels = [_feature(f, f"{source}: feature {n}") for n, f in enumerate(features, start=1)]
    if not parcels:
        raise LandError(f"{source} lists no parcels")
    seen: set[str] = set()
    for p in parcels:
        if p.parcel_id in seen:
            raise LandError(f"{source} lists parcel {p.parcel_id} twice; give each parcel once")
        seen.add(p.parcel_id)
    return parcels


def make_parcel(parcel_id: str, geometry: Any, where: str = "parcel") -> Parcel:
    """One parcel from its id and a GeoJSON geometry, validated (the rules of parse_parcels)."""
    parcel = Parcel(parcel_id, canonical_geometry(geometry, f"{where} {parcel_id}"))
    for part in shapely.get_parts(parcel.shape):
        x0, y0, x1, y1 = part.bounds
        if max(x1 - x0, y1 - y0) > MAX_PART_DEGREES:
            which = f"{x1 - x0:g}° of longitude" if x1 - x0 > MAX_PART_DEGREES else f"{y1 - y0:g}° of latitude"
            raise LandError(
                f"{where} {parcel_id} spans {which}, more than {MAX_PART_DEGREES:g}° (it crosses the antimeridian, "
                "circles a pole or is not a parcel); split it into parts at ±180° or into smaller parcels"
            )
    reason = shapely.is_valid_reason(parcel.shape)
    if reason != "Valid Geometry":
        raise LandError(
            f"{where} {parcel_id} is not a valid polygon ({reason}); fix it in your GIS "
            "(rings must not cross themselves or each other)"
        )
    if parcel.area_m2 < MIN_PARCEL_M2:
        shown = f"{parcel.area_m2:.1f}"
        if float(shown) >= MIN_PARCEL_M2:  # 399.987 is not "400.0 m², below 400 m²": truncate, never round up
            shown = f"{math.floor(parcel.area_m2 * 100) / 100:.2f}"
        raise LandError(
            f"{where} {parcel_id} is {shown} m², below the {MIN_PARCEL_M2:.0f} m² minimum parcel; "
            "merge it with a neighbour or leave it out"
        )
    return parcel


def check_declared_area(declared_m2: float, parcels: list[Parcel]) -> float:
    """The parcels' total geodesic area, if `declared_m2` is within AREA_TOLERANCE of it."""
    total = sum(p.area_m2 for p in parcels)
    if abs(declared_m2 - total) > AREA_TOLERANCE * total:
        raise LandError(
            f"the declared area {declared_m2:,.0f} m² differs from the parcels' {total:,.0f} m² by more than "
            f"{AREA_TOLERANCE:.0%}; declare the parcels' area (--area-m2 {round(total)})"
        )
    return total


def _feature(feature: Any, where: str) -> Parcel:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise LandError(f"{where} is not a GeoJSON Feature")
    _check_crs(feature, where)
    if isinstance(feature.get("geometry"), dict):
        _check_crs(feature["geometry"], where)
    properties = feature.get("properties") or {}
    parcel_id = properties.get("parcel_id") if isinstance(properties, dict) else None
    if not isinstance(parcel_id, (str, int)) or isinstance(parcel_id, bool) or not str(parcel_id).strip():
        raise LandError(f"{where} has no properties.parcel_id; give the 小班 code or forest-right certificate number")
    parcel_id = str(parcel_id).strip()
    if len(parcel_id) > 100:
        raise LandError(f"{where}: parcel_id is longer than 100 characters; give the 小班 code")
    _check_id(parcel_id, where)
    return make_parcel(parcel_id, feature.get("geometry"), f"{where}: parcel")


def _check_crs(document: dict[str, Any], source: str) -> None:
    crs = document.get("crs")
    if crs is None:
        return  # RFC 7946: WGS 84 longitude, latitude
    properties = crs.get("properties") if isinstance(crs, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str) or name.strip().lower() not in _CRS_NAMES:
        raise LandError(
            f"{source} is in CRS {name!r}; give WGS 84 (EPSG:4326) or CGCS2000 (EPSG:4490) longitude, latitude"
        )


def _check_id(parcel_id: str, where: str) -> None:
    """An id is the text people read and compare: no character a reader cannot see (a zero-width
    space, a terminal escape, a newline), and each letter in one form (NFKC), so that full-width
    `Ｐ1` and `P1` cannot be two parcels that look the same."""
    hidden = [c for c in parcel_id if unicodedata.category(c) in _HIDDEN]
    if hidden:
        codes = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(hidden))
        raise LandError(f"{where}: parcel_id {parcel_id!r} holds invisible characters ({codes}); remove them")
    plain = unicodedata.normalize("NFKC", parcel_id)
    if plain != parcel_id:
        raise LandError(
            f"{where}: parcel_id {parcel_id!r} has full-width or compatibility characters; write it as {plain!r}"
        )


def _depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (strings skipped), without parsing it."""
    folded = np.frombuffer(_STRINGS.sub("", text).encode("utf-8", "surrogatepass"), dtype=np.uint8) | 0x20
    brackets = folded[(folded == 0x7B) | (folded == 0x7D)]  # `[` and `{` fold to 0x7B, `]` and `}` to 0x7D
    return int(np.cumsum(np.where(brackets == 0x7B, 1, -1)).max()) if brackets.size else 0
