"""Issue 15's hand-made geometries against a live project's 100 m × 100 m parcel in Ya'an.

Worked numbers: the live parcel A is 100 m × 100 m = 10,000 m² (geodesic 9,999.8 m² after the
7-decimal rounding, ≈ 1 cm per corner); its sliver tolerance is max(1 m², 0.1 % × 10,000 m²) = 10 m².
"""

from __future__ import annotations

import pytest

from land.overlap import LiveParcel, StrtreeIndex, tolerance_m2, within_file
from tests.land.shapes import parcel, rect, ring

A = parcel("YA-0001", rect(0, 0, 100, 100))
LIVE = StrtreeIndex([LiveParcel("P-LIVE", A.parcel_id, A.shape, A.area_m2)])


def conflicts(geometry: dict[str, object], parcel_id: str = "NEW-1") -> list[tuple[str, str, str, object]]:
    """The conflicts found, each area to within 0.05 % (the corners are rounded to ≈ 1 cm)."""
    found = LIVE.conflicts([parcel(parcel_id, geometry)], "P-NEW")
    return [(c.parcel_id, c.other_project, c.other_parcel, pytest.approx(c.overlap_m2, rel=5e-4)) for c in found]


def test_the_tolerance_is_one_square_metre_or_a_thousandth_of_the_smaller_parcel() -> None:
    assert tolerance_m2(10_000, 400) == 1.0  # 0.1 % × 400 m² = 0.4 m² < 1 m²
    assert tolerance_m2(10_000, 50_000) == 10.0  # 0.1 % × 10,000 m²


def test_the_same_polygon_under_another_id_is_refused() -> None:
    assert conflicts(rect(0, 0, 100, 100), "OTHER-ID") == [("OTHER-ID", "P-LIVE", "YA-0001", 10_000)]


def test_a_polygon_shifted_by_one_metre_is_refused() -> None:
    # 99 m × 100 m still shared = 9,900 m²
    assert conflicts(rect(1, 0, 100, 100)) == [("NEW-1", "P-LIVE", "YA-0001", 9_900)]


def test_a_parcel_inside_the_live_one_is_refused() -> None:
    # 30 m × 30 m = 900 m² wholly inside A (ST_Overlaps would say false here)
    assert conflicts(rect(10, 10, 30, 30)) == [("NEW-1", "P-LIVE", "YA-0001", 900)]


def test_a_parcel_containing_the_live_one_is_refused() -> None:
    # 300 m × 300 m around A: the intersection is all of A, 10,000 m²
    assert conflicts(rect(-100, -100, 300, 300)) == [("NEW-1", "P-LIVE", "YA-0001", 10_000)]


def test_sharing_an_edge_is_allowed() -> None:
    assert conflicts(rect(100, 0, 100, 100)) == []  # east neighbour, the same two corners
    assert conflicts(rect(0, 100, 100, 50)) == []  # north neighbour


def test_a_multipolygon_with_a_hole_around_the_live_parcel_is_allowed() -> None:
    # a 300 m square with A's outline as its hole, plus a second part further east
    holed = [ring(-100, -100, 300, 300), list(reversed(ring(0, 0, 100, 100)))]
    geometry = {"type": "MultiPolygon", "coordinates": [holed, [ring(500, 0, 50, 50)]]}
    p = parcel("RING-1", geometry)
    assert round(p.area_m2, -1) == 90_000 - 10_000 + 2_500  # 300² − 100² + 50²
    assert conflicts(geometry) == []


@pytest.mark.parametrize(
    ("width_m", "refused"),
    [
        (0.05, False),  # 0.05 m × 100 m = 5 m² ≤ 10 m²
        (0.15, True),  # 0.15 m × 100 m = 15 m² > 10 m²
    ],
)
def test_a_sliver_below_the_tolerance_passes_and_just_above_is_refused(width_m: float, refused: bool) -> None:
    found = conflicts(rect(100 - width_m, 0, 100, 100))
    assert bool(found) is refused
    if refused:
        # each edge moves by up to half a 10⁻⁷° cell (≈ 0.5 cm) when rounded: 100 m × 1 cm = ±1 m²
        assert LIVE.conflicts([parcel("NEW-1", rect(100 - width_m, 0, 100, 100))], "P-NEW")[0].overlap_m2 == (
            pytest.approx(15, abs=1)
        )


def test_parcels_of_the_same_file_may_not_overlap_each_other() -> None:
    a, b, c = parcel("F-1", rect(0, 0, 50, 50)), parcel("F-2", rect(40, 0, 50, 50)), parcel("F-3", rect(90, 0, 50, 50))
    found = within_file([a, b, c])
    # F-1 and F-2 share 10 m × 50 m = 500 m²; F-2 and F-3 only touch along x = 90 m
    assert [(x.parcel_id, x.other_parcel, round(x.overlap_m2)) for x in found] == [("F-1", "F-2", 500)]
    assert found[0].describe().startswith("parcel F-1 overlaps this file's parcel F-2 by 499.")


def test_a_project_does_not_conflict_with_its_own_parcels() -> None:
    assert LIVE.conflicts([parcel("YA-0001", rect(0, 0, 100, 100))], "P-LIVE") == []
