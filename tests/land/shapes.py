"""Hand-made parcels in metres, placed on the ellipsoid: a rectangle `w` m east by `h` m north
from a south-west corner, its corners found with pyproj's forward geodesic (so a 100 m side is
100 m on the ground, to the 1.1 cm of the 7-decimal canonical form)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyproj import Geod

from land.geometry import Parcel, make_parcel

GEOD = Geod(ellps="WGS84")
YAAN = (103.0, 30.0)  # 雅安: longitude, latitude


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(lon, lat, 90.0, east_m) if east_m else (lon, lat, 0.0)
    lon, lat, _ = GEOD.fwd(lon, lat, 0.0, north_m) if north_m else (lon, lat, 0.0)
    return round(lon, 7), round(lat, 7)


def ring(x: float, y: float, w: float, h: float, origin: tuple[float, float] = YAAN) -> list[list[float]]:
    """Counter-clockwise corners of the rectangle [x, x+w] × [y, y+h] metres from `origin`."""
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]
    return [list(offset(*origin, e, n)) for e, n in corners]


def rect(x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring(x, y, w, h)]}


def parcel(parcel_id: str, geometry: dict[str, Any]) -> Parcel:
    return make_parcel(parcel_id, geometry)


def collection(*parcels: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"parcel_id": i}, "geometry": g} for i, g in parcels],
    }


def parcel_file(path: Path, ids: list[str], *, x: float = 0.0, y: float = 0.0) -> str:
    """Write a GeoJSON file of 40 m × 25 m parcels (1,000 m² each) side by side east of `x`, `y`
    metres from Ya'an's origin, and return their geodesic area in m² as `--area-m2` takes it: a
    project's land, for tests that register one (CSV ids without land are refused)."""
    features = [(pid, rect(x + 50 * n, y, 40, 25)) for n, pid in enumerate(ids)]
    path.write_text(json.dumps(collection(*features)), encoding="utf-8")
    return str(round(sum(parcel(pid, g).area_m2 for pid, g in features)))
