"""Overlap, not equality: a new parcel may not cover another live project's land.

Two parcels conflict when the geodesic area of their intersection exceeds the sliver tolerance,
max(1 m², 0.1 % of the smaller parcel) (issue 15's "1 m² or 0.1 %"; research note §4.3 discusses
0.5 %, TerraMatch clips up to 3.5 % within one project). Containment and the same polygon under
another id are intersections like any other (ST_Overlaps would miss them: research note §4.2);
parcels that only share an edge or a corner intersect in a line or point, area 0, and pass; a
parcel lying in another's hole does not intersect it at all. The intersection is cut in lon/lat
(edges straight in degrees, as the polygons are drawn) and measured on the ellipsoid.

The in-process index is a shapely STRtree over every live parcel, built once and kept; a query
asks it which parcels intersect, then measures each candidate's intersection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from land.geometry import geodesic_area

SLIVER_M2 = 1.0
SLIVER_SHARE = 0.001
M_PER_DEG = 111_320.0  # metres per degree on the equator: the planar estimate only (see _measured)


class Shaped(Protocol):
    """A parcel as the index needs it: a new Parcel (land/geometry.py) or a stored LiveParcel."""

    @property
    def parcel_id(self) -> str: ...
    @property
    def shape(self) -> BaseGeometry: ...
    @property
    def area_m2(self) -> float: ...


def tolerance_m2(area_a: float, area_b: float) -> float:
    return max(SLIVER_M2, SLIVER_SHARE * min(area_a, area_b))


@dataclass(frozen=True)
class LiveParcel:
    """A parcel of a live project (registered, submitted or suspended), as the overlap check sees it."""

    project_id: str
    parcel_id: str
    shape: BaseGeometry
    area_m2: float


@dataclass(frozen=True)
class Conflict:
    parcel_id: str
    other_project: str
    other_parcel: str
    overlap_m2: float
    tolerance_m2: float
    overlap: BaseGeometry | None = None  # the intersection, for the map

    def describe(self) -> str:
        whose = "this file's" if self.other_project == "" else f"project {self.other_project}'s"
        return (
            f"parcel {self.parcel_id} overlaps {whose} parcel {self.other_parcel} by {self.overlap_m2:,.1f} m² "
            f"(tolerance {self.tolerance_m2:,.1f} m²)"
        )

    def key(self) -> tuple[str, str, str]:
        return (self.parcel_id, self.other_project, self.other_parcel)


class StrtreeIndex:
    """Every live parcel in one shapely STRtree (the SQLite path; kept in process between checks)."""

    def __init__(self, parcels: Sequence[LiveParcel]) -> None:
        self.parcels = list(parcels)
        self.tree = shapely.STRtree([p.shape for p in self.parcels])

    def conflicts(self, new: Sequence[Shaped], project_id: str) -> list[Conflict]:
        """Conflicts of `new` (parcels of project `project_id`) with every other project's parcels."""
        if not new or not self.parcels:
            return []
        pairs = self.tree.query(np.array([p.shape for p in new]), predicate="intersects")
        pairs = pairs[:, [self.parcels[j].project_id != project_id for j in pairs[1]]]  # not its own parcels
        return _measured([(new[i], self.parcels[j]) for i, j in pairs.T.tolist()])


def _measured(pairs: Sequence[tuple[Shaped, LiveParcel]], project: str | None = None) -> list[Conflict]:
    """The pairs overlapping by more than the sliver tolerance. Intersections are cut all at once; a
    planar estimate (square degrees × metres per degree at the intersection) skips only those under
    half the tolerance, far below its error for parcels, and every other one is measured geodesically."""
    if not pairs:
        return []
    cuts = shapely.intersection(np.array([a.shape for a, _ in pairs]), np.array([b.shape for _, b in pairs]))
    lat = np.radians(shapely.get_y(shapely.centroid(cuts)))
    estimate = shapely.area(cuts) * M_PER_DEG**2 * np.nan_to_num(np.cos(lat))
    found = []
    for (a, b), cut, rough in zip(pairs, cuts, estimate.tolist(), strict=True):
        allowed = tolerance_m2(a.area_m2, b.area_m2)
        if rough < allowed / 2:
            continue
        area = geodesic_area(cut)
        if area > allowed:
            other = b.project_id if project is None else project
            found.append(Conflict(a.parcel_id, other, b.parcel_id, area, allowed, cut))
    return sorted(found, key=Conflict.key)


def within_file(new: Sequence[Shaped]) -> list[Conflict]:
    """Parcels of the same file overlapping each other (each pair once); other_project is ''."""
    if len(new) < 2:
        return []
    live = [LiveParcel("", p.parcel_id, p.shape, p.area_m2) for p in new]
    pairs = shapely.STRtree([p.shape for p in new]).query(np.array([p.shape for p in new]), predicate="intersects")
    return _measured([(new[i], live[j]) for i, j in pairs.T.tolist() if i < j], project="")
