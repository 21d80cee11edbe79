"""Parcels are valid land of at least 400 m², in WGS 84 or CGCS2000; the canonical hash ignores how
a ring was drawn; the declared project area must match the parcels' geodesic sum within 1 %."""

from __future__ import annotations

import json
import random

import pytest

from chain.canonical import canonical_json, sha256_hex
from land.canonical import canonical_geometry
from land.errors import LandError
from land.geometry import check_declared_area, parse_parcels
from tests.land.shapes import collection, parcel, rect, ring

SQUARE = [[103.0, 30.0], [103.001, 30.0], [103.001, 30.001], [103.0, 30.001], [103.0, 30.0]]


def test_a_bowtie_is_refused_with_the_reason_and_not_repaired() -> None:
    bowtie = [[103.0, 30.0], [103.001, 30.001], [103.001, 30.0], [103.0, 30.001], [103.0, 30.0]]
    with pytest.raises(LandError, match=r"BOW-1 is not a valid polygon \(Self-intersection\[103.0005 30.0005\]\)"):
        parcel("BOW-1", {"type": "Polygon", "coordinates": [bowtie]})


def test_a_parcel_below_400_square_metres_is_refused() -> None:
    # 19 m × 19 m = 361 m² < 400 m²; 20 m × 20 m = 400 m² passes (399.99 after rounding to 1 cm? no: ≥ 400 by 1 cm)
    with pytest.raises(LandError, match=r"SMALL is 361\.\d m², below the 400 m² minimum"):
        parcel("SMALL", rect(0, 0, 19, 19))
    assert parcel("ENOUGH", rect(0, 0, 21, 20)).area_m2 == pytest.approx(420, abs=0.5)


def test_the_declared_area_must_match_the_parcels_within_one_percent() -> None:
    parcels = [parcel("A", rect(0, 0, 100, 100)), parcel("B", rect(200, 0, 100, 50))]  # 10,000 + 5,000 m²
    assert check_declared_area(15_100, parcels) == pytest.approx(15_000, abs=1)  # 0.67 % off: fine
    with pytest.raises(LandError, match=r"declared area 15,200 m² differs from the parcels' 15,000 m² by more than 1%"):
        check_declared_area(15_200, parcels)  # 1.33 % off


def test_points_lines_projected_metres_and_other_crs_are_refused() -> None:
    with pytest.raises(LandError, match="'LineString' is not land"):
        parcel("L", {"type": "LineString", "coordinates": SQUARE})
    with pytest.raises(LandError, match="not a longitude, latitude in degrees"):
        parcel("M", {"type": "Polygon", "coordinates": [[[500000, 3300000], [500100, 3300000], [500100, 3300100]]]})
    doc = collection(("A", rect(0, 0, 100, 100)))
    doc["crs"] = {"type": "name", "properties": {"name": "EPSG:32648"}}
    with pytest.raises(LandError, match=r"give WGS 84 .* or CGCS2000"):
        parse_parcels(json.dumps(doc))
    doc["crs"] = {"type": "name", "properties": {"name": "EPSG:4490"}}
    assert [p.parcel_id for p in parse_parcels(json.dumps(doc))] == ["A"]


def test_a_feature_needs_an_id_and_a_geometry_and_ids_are_unique() -> None:
    with pytest.raises(LandError, match=r"feature 1 has no properties\.parcel_id"):
        parse_parcels(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]}))
    with pytest.raises(LandError, match="X-1: missing; give each parcel a GeoJSON Polygon"):
        parse_parcels(json.dumps(collection(("X-1", None))))  # type: ignore[arg-type]  # a missing geometry on purpose
    with pytest.raises(LandError, match="lists parcel X-1 twice"):
        parse_parcels(json.dumps(collection(("X-1", rect(0, 0, 30, 30)), ("X-1", rect(50, 0, 30, 30)))))


def test_the_canonical_form_is_the_documented_one() -> None:
    # clockwise, starting at the north-east corner, written as a Polygon
    drawn = [[103.001, 30.001], [103.001, 30.0], [103.0, 30.0], [103.0, 30.001], [103.001, 30.001]]
    canonical = canonical_geometry({"type": "Polygon", "coordinates": [drawn]})
    # counter-clockwise from the smallest (lon, lat): 103.0000000° = 1,030,000,000 units of 10⁻⁷°
    assert canonical == {
        "type": "MultiPolygon",
        "coordinates": [
            [
                [
                    (1030000000, 300000000),
                    (1030010000, 300000000),
                    (1030010000, 300010000),
                    (1030000000, 300010000),
                    (1030000000, 300000000),
                ]
            ]
        ],
    }
    body = {
        "id": "YA-1",
        "geometry": {"type": "MultiPolygon", "coordinates": [[[list(v) for v in canonical["coordinates"][0][0]]]]},
    }
    assert parcel("YA-1", {"type": "Polygon", "coordinates": [drawn]}).hash == sha256_hex(canonical_json(body))


def test_the_hash_ignores_rotation_orientation_part_order_and_noise_below_the_precision() -> None:
    outer, hole = ring(0, 0, 200, 200), list(reversed(ring(50, 50, 50, 50)))
    other = ring(400, 0, 60, 60)
    reference = parcel("YA-9", {"type": "MultiPolygon", "coordinates": [[outer, hole], [other]]}).hash
    rng = random.Random(15)
    for _ in range(20):

        def drawn(r: list[list[float]]) -> list[list[float]]:
            open_ring = r[:-1]
            k = rng.randrange(len(open_ring))
            rotated = open_ring[k:] + open_ring[:k]
            if rng.random() < 0.5:
                rotated.reverse()
            # noise of up to 3·10⁻⁹° (0.3 mm) stays within the same 10⁻⁷° cell: the corners are on the grid
            noisy = [[x + rng.uniform(-3e-9, 3e-9), y + rng.uniform(-3e-9, 3e-9)] for x, y in rotated]
            return [*noisy, noisy[0]]

        parts = [[drawn(outer), drawn(hole)], [drawn(other)]]
        rng.shuffle(parts)
        assert parcel("YA-9", {"type": "MultiPolygon", "coordinates": parts}).hash == reference
    assert parcel("YA-9b", {"type": "MultiPolygon", "coordinates": [[outer, hole], [other]]}).hash != reference
    shifted = ring(0, 0, 200, 200.05)  # 5 cm moves the north edge by 4-5 units of 10⁻⁷°
    assert parcel("YA-9", {"type": "MultiPolygon", "coordinates": [[shifted, hole], [other]]}).hash != reference
