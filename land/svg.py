"""Parcels drawn as an SVG map: no tiles, no server, nothing fetched (a pure function of the shapes).

Longitude is scaled by cos(mid-latitude), so a square parcel looks square at Sichuan's 30°N; a
scale bar gives metres. Parcels of the project are green, other projects' grey; an overlapping
parcel of a refused registration is outlined red and the overlap itself filled red.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import shapely
from shapely import Polygon
from shapely.geometry.base import BaseGeometry

STYLES = {
    "project": 'fill="#2e7d32" fill-opacity="0.35" stroke="#1b5e20"',
    "other": 'fill="#9e9e9e" fill-opacity="0.35" stroke="#616161"',
    "conflict": 'fill="#ef9a9a" fill-opacity="0.5" stroke="#c62828" stroke-width="2"',
    "overlap": 'fill="#d50000" fill-opacity="0.85" stroke="#b71c1c"',
}
M_PER_DEG_LAT = 110_900.0  # near 30°N, for the scale bar only (the areas are geodesic elsewhere)


@dataclass(frozen=True)
class Layer:
    label: str  # shown as the shape's tooltip
    shape: BaseGeometry
    kind: str  # a key of STYLES


def render(layers: Sequence[Layer], *, title: str, width: int = 720, margin: int = 24) -> str:
    """An SVG document showing `layers` in order (later ones on top)."""
    shapes = [layer.shape for layer in layers if not layer.shape.is_empty]
    if not shapes:
        return _document(title, width, 120, f'<text x="{margin}" y="60">no parcels</text>')
    x0, y0, x1, y1 = shapely.total_bounds(shapes).tolist()
    k = math.cos(math.radians((y0 + y1) / 2))
    span_x, span_y = max((x1 - x0) * k, 1e-9), max(y1 - y0, 1e-9)
    scale = (width - 2 * margin) / max(span_x, span_y)
    height = round(span_y * scale + 2 * margin + 30)

    def point(x: float, y: float) -> str:
        return f"{(x - x0) * k * scale + margin:.1f},{(y1 - y) * scale + margin:.1f}"

    body = []
    for layer in layers:
        parts = shapely.get_parts(shapely.get_parts(layer.shape))  # a collection's parts, then a multi's
        d = " ".join(_path(p, point) for p in parts if p.geom_type == "Polygon")
        if d:
            body.append(
                f'<path d="{d}" fill-rule="evenodd" {STYLES[layer.kind]} data-kind="{layer.kind}">'
                f"<title>{escape(layer.label)}</title></path>"
            )
    body.append(_scale_bar(scale, margin, height))
    return _document(title, width, height, "\n".join(body))


def _path(polygon: Polygon, point: Callable[[float, float], str]) -> str:
    rings = [polygon.exterior, *polygon.interiors]
    return " ".join("M" + " L".join(point(x, y) for x, y in ring.coords[:-1]) + " Z" for ring in rings)


def _scale_bar(scale: float, margin: int, height: int) -> str:
    metres_per_px = M_PER_DEG_LAT / scale
    target = metres_per_px * 150
    nice = 10 ** math.floor(math.log10(target))
    length_m = max(n * nice for n in (1, 2, 5) if n * nice <= target)
    px = length_m / metres_per_px
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    y = height - 12
    return (
        f'<g data-kind="scale"><line x1="{margin}" y1="{y}" x2="{margin + px:.1f}" y2="{y}" stroke="#000" stroke-width="2"/>'
        f'<text x="{margin + px + 6:.1f}" y="{y + 4}" font-size="12">{label}</text></g>'
    )


def _document(title: str, width: int, height: int, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label={quoteattr(title)}>\n<title>{escape(title)}</title>\n{body}\n</svg>\n'
    )
